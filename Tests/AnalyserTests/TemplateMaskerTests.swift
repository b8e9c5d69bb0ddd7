import Testing
import LogdistBasics

@testable import Analyser

struct MaskCase: Sendable, CustomTestStringConvertible {
    let input: String
    let expected: String
    var testDescription: String { "\(input) → \(expected)" }

    init(_ input: String, _ expected: String) {
        self.input = input
        self.expected = expected
    }
}

@Suite("TemplateMasker")
struct TemplateMaskerTests {
    static let cases: [MaskCase] = [
        // No digits: returned as is.
        MaskCase("", ""),
        MaskCase("user logged in", "user logged in"),
        MaskCase("deadbeef cafe abcdef", "deadbeef cafe abcdef"),
        MaskCase("dead::beef", "dead::beef"),
        // Integers, decimals, signs, dotted runs.
        MaskCase("42", "<num>"),
        MaskCase("took 12 steps", "took <num> steps"),
        MaskCase("pi is 3.14159", "pi is <num>"),
        MaskCase("delta -42", "delta <num>"),
        MaskCase("x=-5", "x=<num>"),
        MaskCase("temp -3.5C", "temp <num>C"),
        MaskCase("a - 5", "a - <num>"),
        MaskCase("a-5", "a-<num>"),
        MaskCase("--5", "-<num>"),
        MaskCase("version 1.2.3", "version <num>"),
        MaskCase("1.2.3.4.5", "<num>"),
        MaskCase("99.5%", "<num>%"),
        MaskCase("1,000,000 rows", "<num>,<num>,<num> rows"),
        MaskCase("HTTP/1.1 200", "HTTP/<num> <num>"),
        MaskCase("end of sentence 5.", "end of sentence <num>."),
        MaskCase("file1.txt", "file1.txt"),
        MaskCase("img_0012.png", "img_<num>.png"),
        MaskCase("(7)", "(<num>)"),
        MaskCase("[12]", "[<num>]"),
        MaskCase("n=0", "n=<num>"),
        // Units: digits starting a word.
        MaskCase("in 12ms", "in <num>ms"),
        MaskCase("3.5GB used", "<num>GB used"),
        MaskCase("100Mbps", "<num>Mbps"),
        MaskCase("1h30m", "<num>h<num>m"),
        MaskCase("5xx", "<num>xx"),
        MaskCase("3rd try", "<num>rd try"),
        MaskCase("1e10", "<num>e<num>"),
        MaskCase("0x", "<num>x"),
        // Letters then digits: masked only when digits outnumber letters.
        MaskCase("user42", "user42"),
        MaskCase("v2", "v2"),
        MaskCase("v10", "v<num>"),
        MaskCase("v1.2.3", "v<num>"),
        MaskCase("sha256", "sha256"),
        MaskCase("utf8", "utf8"),
        MaskCase("log4j", "log4j"),
        MaskCase("ab12", "ab12"),
        MaskCase("req12345", "req<num>"),
        MaskCase("id1234", "id<num>"),
        MaskCase("x86_64", "x<num>_<num>"),
        MaskCase("a1b2", "a1b2"),
        MaskCase("worker17", "worker17"),
        MaskCase("worker_17", "worker_<num>"),
        MaskCase("worker-17", "worker-<num>"),
        MaskCase("worker.17", "worker.<num>"),
        MaskCase("worker:17", "worker:<num>"),
        MaskCase("é42", "é42"),
        MaskCase("naïve 7", "naïve <num>"),
        MaskCase("日本 42", "日本 <num>"),
        // Hex ids.
        MaskCase("0x7fff", "<hex>"),
        MaskCase("0XDEAD", "<hex>"),
        MaskCase("addr 0x0", "addr <hex>"),
        MaskCase("-0x1F", "-<hex>"),
        MaskCase("0xZZ", "<num>xZZ"),
        MaskCase("deadbeef42", "<hex>"),
        MaskCase("4BF92F35", "<hex>"),
        MaskCase("cafe1234", "<hex>"),
        MaskCase("1234abcd", "<hex>"),
        MaskCase("abc1234", "abc<num>"),
        MaskCase("12345678", "<num>"),
        MaskCase("trace_id=4bf92f3577b34da6a3ce929d0e0e4736", "trace_id=<hex>"),
        MaskCase("commit a1b2c3d4e5f6", "commit <hex>"),
        MaskCase("sha 9fceb02d0ae598e95dc970b74767f19372d61af8", "sha <hex>"),
        MaskCase("mac 00:1a:2b:3c:4d:5e up", "mac <hex> up"),
        // UUIDs.
        MaskCase("550e8400-e29b-41d4-a716-446655440000", "<uuid>"),
        MaskCase("id=550E8400-E29B-41D4-A716-446655440000.", "id=<uuid>."),
        MaskCase("req-550e8400-e29b-41d4-a716-446655440000 done", "req-<uuid> done"),
        MaskCase("550e8400-e29b-41d4-a716-44665544000", "<hex>-e29b-<num>d<num>-a<num>-<num>"),  // too short
        MaskCase("550e8400-e29b-41d4-a716-446655440000x", "<hex>-e29b-<num>d<num>-a<num>-<num>x"),
        // IPv4.
        MaskCase("from 10.0.0.17", "from <ip>"),
        MaskCase("from 10.0.0.17:51234 ok", "from <ip> ok"),
        MaskCase("peer=192.168.1.1,", "peer=<ip>,"),
        MaskCase("10.0.0.1:99999", "<ip>:<num>"),
        MaskCase("10.0.0.1:", "<ip>:"),
        MaskCase("(127.0.0.1)", "(<ip>)"),
        MaskCase("http://10.1.2.3:8080/x", "http://<ip>/x"),
        MaskCase("-10.0.0.1", "-<ip>"),
        MaskCase("256.1.1.1", "<num>"),
        MaskCase("1.2.3", "<num>"),
        MaskCase("1.2.3.4.5", "<num>"),
        MaskCase("1.2.3.4x", "<num>x"),
        // IPv6.
        MaskCase("fe80::1", "<ip>"),
        MaskCase("::1", "<ip>"),
        MaskCase("[::1]:443", "<ip>"),
        MaskCase("[2001:db8::7]", "<ip>"),
        MaskCase("2001:db8:85a3:0:0:8a2e:370:7334", "<ip>"),
        MaskCase("::ffff:192.168.1.1", "<ip>"),
        MaskCase("fe80::1%eth0", "<ip>%eth0"),
        MaskCase("fe80::1:", "<ip>:"),
        MaskCase("1:2:3:4:5:6:7:8:9", "<num>:<num>:<num>:<num>:<num>:<num>:<num>:<num>:<num>"),
        MaskCase("1::2::3", "<num>::<num>::<num>"),
        MaskCase("cafe:fe80::1", "<ip>"),
        MaskCase("x1:fe80::1", "x1:fe80::<num>"),
        MaskCase("addr:fe80::1", "addr:<ip>"),
        MaskCase("12:30:45", "<num>:<num>:<num>"),
        MaskCase("std::vector<int> x2", "std::vector<int> x2"),
        // Whole lines.
        MaskCase("GET /api/v1/users/12345 returned 200 in 12ms", "GET /api/v1/users/<num> returned <num> in <num>ms"),
        MaskCase(
            "2024-01-15T12:30:45.123Z INFO conn 10.0.0.7:443 closed after 1.5s",
            "<num>-<num>-<num>T<num>:<num>:<num>Z INFO conn <ip> closed after <num>s"
        ),
        MaskCase(
            "request 550e8400-e29b-41d4-a716-446655440000 failed: timeout after 30s (attempt 3/5)",
            "request <uuid> failed: timeout after <num>s (attempt <num>/<num>)"
        ),
        MaskCase(
            "worker_3 processed batch 0x7fff1a2b of 1024 items for user42",
            "worker_<num> processed batch <hex> of <num> items for user42"
        ),
        MaskCase("disk usage at 93.5% on /dev/sda1", "disk usage at <num>% on /dev/sda1"),
        MaskCase("{\"latency_ms\":17,\"ok\":true}", "{\"latency_ms\":<num>,\"ok\":true}"),
    ]

    @Test(arguments: cases)
    func masks(_ c: MaskCase) {
        #expect(TemplateMasker.mask(c.input) == c.expected)
    }

    @Test(arguments: cases)
    func isIdempotent(_ c: MaskCase) {
        let once = TemplateMasker.mask(c.input)
        #expect(TemplateMasker.mask(once) == once)
    }

    @Test func similarLinesShareATemplate() {
        let lines = (0..<50).map {
            "user \($0 * 37) fetched \($0)KB from 10.0.\($0).\($0 + 1):\(8000 + $0) in \($0).\($0)ms"
        }
        #expect(Set(lines.map(TemplateMasker.mask)) == ["user <num> fetched <num>KB from <ip> in <num>ms"])
    }

    @Test func longMessagesAndNonContiguousStrings() {
        let long = String(repeating: "id 123 ", count: 5000)
        #expect(TemplateMasker.mask(long) == String(repeating: "id <num> ", count: 5000))
        let bridged = String(Substring("x 1 y"))
        #expect(TemplateMasker.mask(bridged) == "x <num> y")
        let worst = String(repeating: "1 ", count: 1000)  // maximum expansion
        #expect(TemplateMasker.mask(worst) == String(repeating: "<num> ", count: 1000))
    }

    @Test func randomInputNeverCrashesNorAddsDigits() {
        var rng = SplitMix64(seed: 7)
        let alphabet = Array("0123456789abcdefxX.:-[]_ %é".unicodeScalars)
        for _ in 0..<20_000 {
            let length = Int(rng.next() % 40)
            var s = String.UnicodeScalarView()
            for _ in 0..<length { s.append(alphabet[Int(rng.next() % UInt64(alphabet.count))]) }
            let input = String(s)
            let output = TemplateMasker.mask(input)
            let digits = { (s: String) in s.utf8.count { $0 >= 0x30 && $0 <= 0x39 } }
            #expect(digits(output) <= digits(input), "\(input) → \(output)")
            #expect(TemplateMasker.mask(input) == output)
        }
    }
}

