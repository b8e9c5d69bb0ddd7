import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs operator-supplied shell commands (broker control for tests and chaos).
///
/// posix_spawn and waitpid rather than Foundation's `Process`, whose exit monitoring on Linux was seen to miss a
/// child's exit for minutes (the child a zombie, `waitUntilExit` still waiting) when the command started a daemon.
public enum Shell {
    /// Runs `/bin/sh -c command` and waits for it; returns its exit status (128 + signal if it was killed).
    public static func run(_ command: String) throws -> Int32 {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(command), nil]
        defer { for arg in argv { free(arg) } }
        let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ)
        guard spawned == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "cannot run /bin/sh: errno \(spawned)"])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return -1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// `run` on a thread of its own, so the cooperative pool is not blocked while the command runs.
    public static func runDetached(_ command: String) async throws -> Int32 {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try run(command) })
            }
        }
    }
}
