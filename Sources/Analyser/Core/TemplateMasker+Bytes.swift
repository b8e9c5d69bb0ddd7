// The byte-level helpers of `TemplateMasker`: look-ahead input and the output buffer.

/// The message's bytes, with 0 past the end so look-ahead needs no bounds checks.
struct MaskerInput {
    let p: UnsafePointer<UInt8>
    let n: Int

    @inline(__always) func at(_ j: Int) -> UInt8 { j < n ? p[j] : 0 }

    /// A word: letters and digits, plus `.` between two digits (decimals, versions).
    func wordEnd(from start: Int) -> Int {
        var j = start
        while j < n {
            let c = p[j]
            if TemplateMasker.isWord(c) {
                j += 1
            } else if c == UInt8(ascii: "."), j > start, TemplateMasker.isDigit(p[j - 1]),
                TemplateMasker.isDigit(at(j + 1))
            {
                j += 1
            } else {
                break
            }
        }
        return j
    }

    /// True when nothing word-like continues at `j` (a `.` before a digit would make a longer number).
    @inline(__always) func endsWord(at j: Int) -> Bool {
        let c = at(j)
        return !TemplateMasker.isWord(c) && !(c == UInt8(ascii: ".") && TemplateMasker.isDigit(at(j + 1)))
    }

    func hasDigit(_ from: Int, _ to: Int) -> Bool {
        for k in from..<to where TemplateMasker.isDigit(p[k]) { return true }
        return false
    }
}

struct MaskerOutput {
    let out: UnsafeMutablePointer<UInt8>
    var count = 0

    @inline(__always) mutating func copy(_ from: UnsafePointer<UInt8>, _ length: Int) {
        guard length > 0 else { return }
        (out + count).update(from: from, count: length)
        count += length
    }

    /// Letters copied, each run of digits (with dots between digits) replaced by `<num>`.
    mutating func maskDigitRuns(_ s: MaskerInput, _ start: Int, _ end: Int) {
        var k = start
        let num: StaticString = "<num>"
        while k < end {
            let c = s.p[k]
            if TemplateMasker.isDigit(c) {
                while k < end, TemplateMasker.isDigit(s.p[k]) || s.p[k] == UInt8(ascii: ".") { k += 1 }
                copy(num.utf8Start, num.utf8CodeUnitCount)
            } else {
                out[count] = c
                count += 1
                k += 1
            }
        }
    }
}
