// Foundation-free logarithms (natural log via the standard library's bit-level helpers are not
// available, so this uses a short, exact-enough series; the membership core needs only a few
// digits of precision).

/// Natural logarithm for positive finite values, accurate to ~1e-12 relative.
func ln(_ value: Double) -> Double {
    precondition(value > 0 && value.isFinite, "ln of non-positive value")
    // value = m × 2^e with m in [1, 2)
    let exponent = Double(value.exponent)
    let mantissa = value.significand
    // ln(m) = 2 atanh((m-1)/(m+1))
    let y = (mantissa - 1) / (mantissa + 1)
    let y2 = y * y
    var term = y
    var sum = 0.0
    var k = 1.0
    while k < 60 {
        sum += term / k
        term *= y2
        k += 2
    }
    return 2 * sum + exponent * 0.693_147_180_559_945_3
}

func log10(_ value: Double) -> Double { ln(value) / 2.302_585_092_994_046 }
func log2(_ value: Double) -> Double { ln(value) / 0.693_147_180_559_945_3 }
