#pragma once

// Known RecordBatch v2 bytes from other implementations (a real Kafka broker, the sarama
// client), for codec interoperability tests and as fuzzing seeds. test_vectors.cc says where
// each comes from.

#include <cstdint>
#include <span>
#include <vector>

namespace strand::record::test_vectors {

std::vector<std::span<const uint8_t>> KafkaBrokerBatches();
std::span<const uint8_t> SaramaUncompressed();
std::span<const uint8_t> SaramaGzip();
std::span<const uint8_t> SaramaSnappy();
std::span<const uint8_t> SaramaLz4();

}  // namespace strand::record::test_vectors
