import ServiceSupport
import LoadGen
import Testing

@testable import Dispatcher

@Suite("LoadLimits")
struct LoadLimitsTests {
    let limits = LoadLimits()
    let url = "http://127.0.0.1:8080/v1/packets"

    func request(
        rate: Double = 100, packets: Int = 10, messages: Int = 3, seconds: Double = 60, connections: Int? = nil
    ) -> LoadRequest {
        LoadRequest(rate: rate, packetsPerRequest: packets, messagesPerPacket: messages, durationSeconds: seconds, connections: connections)
    }

    func refusal(_ request: LoadRequest) -> APIError? {
        do {
            _ = try limits.plan(for: request, url: url, token: nil)
            return nil
        } catch {
            return error
        }
    }

    @Test func aRequestWithinTheBoundsBecomesItsPlan() throws {
        let plan = try limits.plan(for: request(), url: url, token: "t")
        #expect(plan.url == url && plan.rate == 100 && plan.batch == 10 && plan.messagesPerPacket == 3)
        #expect(plan.duration == .seconds(60) && plan.token == "t")
        #expect(plan.connections == limits.connections(for: 100))
        #expect(try limits.plan(for: request(connections: 7), url: url, token: nil).connections == 7)
    }

    @Test("each bound refuses with a 422 naming its field", arguments: [
        (LoadRequest(rate: 0, packetsPerRequest: 1, messagesPerPacket: 1, durationSeconds: 10), "rate"),
        (LoadRequest(rate: -5, packetsPerRequest: 1, messagesPerPacket: 1, durationSeconds: 10), "rate"),
        (LoadRequest(rate: .nan, packetsPerRequest: 1, messagesPerPacket: 1, durationSeconds: 10), "rate"),
        (LoadRequest(rate: 2001, packetsPerRequest: 1, messagesPerPacket: 1, durationSeconds: 10), "rate"),
        (LoadRequest(rate: 10, packetsPerRequest: 0, messagesPerPacket: 1, durationSeconds: 10), "packetsPerRequest"),
        (LoadRequest(rate: 10, packetsPerRequest: 1001, messagesPerPacket: 1, durationSeconds: 10), "packetsPerRequest"),
        (LoadRequest(rate: 10, packetsPerRequest: 1, messagesPerPacket: 0, durationSeconds: 10), "messagesPerPacket"),
        (LoadRequest(rate: 10, packetsPerRequest: 1, messagesPerPacket: 101, durationSeconds: 10), "messagesPerPacket"),
        (LoadRequest(rate: 10, packetsPerRequest: 1, messagesPerPacket: 1, durationSeconds: 0.5), "durationSeconds"),
        (LoadRequest(rate: 10, packetsPerRequest: 1, messagesPerPacket: 1, durationSeconds: 601), "durationSeconds"),
        (LoadRequest(rate: 10, packetsPerRequest: 1, messagesPerPacket: 1, durationSeconds: .infinity), "durationSeconds"),
        (LoadRequest(rate: 10, packetsPerRequest: 1, messagesPerPacket: 1, durationSeconds: 10, connections: 0), "connections"),
        (LoadRequest(rate: 10, packetsPerRequest: 1, messagesPerPacket: 1, durationSeconds: 10, connections: 65), "connections"),
    ])
    func boundsRefuse(request: LoadRequest, field: String) {
        let error = refusal(request)
        #expect(error?.status == .unprocessableContent)
        #expect(error?.field == field, "\(String(describing: error))")
    }

    @Test func packetsPerSecondAreBoundedTogether() {
        #expect(refusal(request(rate: 1000, packets: 20)) == nil)  // 20 000 packets/s: the limit
        let error = refusal(request(rate: 1001, packets: 20))
        #expect(error?.field == "rate" && error?.detail.contains("packets/s") == true)
    }

    @Test func aBodyLargerThanIngestTakesIsRefused() {
        // 1000 packets of 100 messages is several MiB, far over ingest's 1 MiB.
        let error = refusal(request(rate: 1, packets: 1000, messages: 100))
        #expect(error?.field == "packetsPerRequest" && error?.detail.contains("1048576") == true)
        // Under the quick estimate, over the exact size: refused too.
        #expect(refusal(request(rate: 1, packets: 1000, messages: 13))?.field == "packetsPerRequest")
        let plan = try? limits.plan(for: request(rate: 1, packets: 100, messages: 10), url: url, token: nil)
        #expect((plan?.bodyBytes ?? .max) <= limits.maxBodyBytes)
    }

    @Test func connectionsFollowTheRateWithinTheirBounds() {
        #expect(limits.connections(for: 1) == 4)
        #expect(limits.connections(for: 100) == 10)
        #expect(limits.connections(for: 555) == 56)
        #expect(limits.connections(for: 2000) == 64)
    }

    @Test("ingest URLs from the operator", arguments: [
        ("http://ingest-1:8080", "http://ingest-1:8080/v1/packets"),
        ("http://ingest-1:8080/", "http://ingest-1:8080/v1/packets"),
        ("https://10.0.0.5:443/v1/packets", "https://10.0.0.5:443/v1/packets"),
        (" http://127.0.0.1:8080 ", "http://127.0.0.1:8080/v1/packets"),
    ])
    func ingestURLs(text: String, url: String) {
        #expect(DispatcherConfig.ingestPacketsURL(text) == url)
    }

    @Test(arguments: ["ingest-1:8080", "ftp://ingest-1", "http://", "http://ingest-1:8080/v1/other", "http://h/v1/packets?x=1", ""])
    func refusedIngestURLs(text: String) {
        #expect(DispatcherConfig.ingestPacketsURL(text) == nil)
    }
}
