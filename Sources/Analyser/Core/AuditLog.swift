import Foundation

/// An append-only record of analysed packets, `offset id` per line, kept consistent with committed offsets:
/// at start, lines at or beyond the committed offset are dropped (they will be analysed again), so after any crash
/// the file lists each packet this analyser analysed exactly once. For chaos tests and audits, not for production
/// volumes.
final class AuditLog: @unchecked Sendable {
    // Written only by the consume loop (one task); @unchecked because FileHandle is not Sendable.
    private let handle: FileHandle
    let path: String

    /// Opens `path`, keeping only the lines below `committed`.
    init(path: String, committed: Int64) throws {
        self.path = path
        let kept: [Substring]
        if let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) {
            kept = text.split(separator: "\n").filter { line in
                guard let space = line.firstIndex(of: " "), let offset = Int64(line[..<space]) else { return false }
                return offset < committed
            }
        } else {
            kept = []
        }
        let body = kept.isEmpty ? "" : kept.joined(separator: "\n") + "\n"
        try body.write(toFile: path, atomically: true, encoding: .utf8)
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
    }

    /// Appends a batch's lines in one write, before the batch's offsets can be committed.
    func append(_ entries: [(offset: Int64, id: String)]) {
        guard !entries.isEmpty else { return }
        var text = ""
        for entry in entries { text += "\(entry.offset) \(entry.id)\n" }
        handle.write(Data(text.utf8))
    }

    deinit {
        try? handle.close()
    }
}
