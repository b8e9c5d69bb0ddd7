// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "logdist",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "logdist", targets: ["logdist"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", exact: "0.2.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .target(
            name: "Common",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Ingest",
            dependencies: [
                "Common",
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .target(
            name: "LoadGen",
            dependencies: [
                "Common",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Dispatcher",
            dependencies: [
                "Common", "LoadGen",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            // The dashboard: one self-contained HTML file, compiled into the binary (no bundle to find at run time).
            resources: [.embedInCode("Resources/dashboard.html")]
        ),
        .target(
            name: "Analyser",
            dependencies: [
                "Common",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .target(
            name: "Pipeline",
            dependencies: [
                "Common", "Ingest", "Dispatcher", "Analyser", "LoadGen",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "logdist",
            dependencies: [
                "Common", "Ingest", "Dispatcher", "Analyser", "Pipeline", "LoadGen",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .target(
            name: "KafkaTestSupport",
            dependencies: [
                "Common", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/KafkaTestSupport"
        ),
        .testTarget(name: "CommonTests", dependencies: ["Common", "CRdKafka", "KafkaTestSupport"]),
        .testTarget(
            name: "IngestTests",
            dependencies: ["Ingest", "Common", "KafkaTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")],
            exclude: ["hostile-corpus.json", "contract"]
        ),
        .testTarget(
            name: "DispatcherTests",
            dependencies: ["Dispatcher", "Common", "LoadGen", "KafkaTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")]
        ),
        .testTarget(
            name: "AnalyserTests",
            dependencies: ["Analyser", "Common", "KafkaTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "Common", "Ingest", "Dispatcher", "Analyser", "Pipeline", "LoadGen", "KafkaTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
    ]
)
