#include "controller/server/metadata_events.h"

#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace strand::controller {
namespace {

// A broker failure can move thousands of leaders in one batch: name the first few.
constexpr size_t kMaxPartitionLines = 20;

std::string TopicName(const MetadataImage& image, const std::string& id_bytes) {
  auto id = TopicId::FromBytes(id_bytes);
  if (!id) return "<bad topic id>";
  const TopicImage* t = image.topic(*id);
  return t != nullptr ? t->name : id->ToString();
}

std::string Ids(const google::protobuf::RepeatedField<int32_t>& ids) {
  return fmt::format("[{}]", fmt::join(ids, ","));
}

std::string FenceText(v1::FenceChange f) {
  switch (f) {
    case v1::FENCE_CHANGE_FENCE:
      return "fenced";
    case v1::FENCE_CHANGE_UNFENCE:
      return "unfenced";
    default:
      return "";
  }
}

}  // namespace

std::vector<std::string> DescribeMetadataBatch(const v1::MetadataBatch& batch,
                                               const MetadataImage& after) {
  std::vector<std::string> out;
  std::map<std::string, int> created_partitions;  // topic id bytes -> PartitionRecords
  size_t partition_lines = 0, partition_lines_dropped = 0;
  for (const v1::MetadataRecord& r : batch.records()) {
    switch (r.record_case()) {
      case v1::MetadataRecord::kRegisterBroker: {
        const auto& b = r.register_broker();
        const BrokerRegistration* reg = after.broker(NodeId(b.broker_id()));
        out.push_back(fmt::format("broker {} registered (epoch {}, rack '{}', {})", b.broker_id(),
                                  reg != nullptr ? reg->epoch : b.broker_epoch(), b.rack(),
                                  b.fenced() ? "fenced" : "unfenced"));
        break;
      }
      case v1::MetadataRecord::kBrokerRegistrationChange: {
        const auto& c = r.broker_registration_change();
        std::vector<std::string> what;
        if (!FenceText(c.fence()).empty()) what.push_back(FenceText(c.fence()));
        if (c.in_controlled_shutdown()) what.push_back("in controlled shutdown");
        if (c.clear_controlled_shutdown()) what.push_back("controlled shutdown ended");
        if (!what.empty()) {
          out.push_back(fmt::format("broker {} (epoch {}) {}", c.broker_id(), c.broker_epoch(),
                                    fmt::join(what, ", ")));
        }
        break;
      }
      case v1::MetadataRecord::kUnregisterBroker:
        out.push_back(fmt::format("broker {} unregistered", r.unregister_broker().broker_id()));
        break;
      case v1::MetadataRecord::kPartition:
        ++created_partitions[r.partition().topic_id()];
        break;
      case v1::MetadataRecord::kPartitionChange: {
        const auto& c = r.partition_change();
        if (partition_lines >= kMaxPartitionLines) {
          ++partition_lines_dropped;
          break;
        }
        ++partition_lines;
        std::vector<std::string> what;
        if (c.has_leader()) {
          what.push_back(c.leader() < 0 ? std::string("offline (no eligible leader)")
                                        : fmt::format("leader {}", c.leader()));
        }
        if (c.set_isr()) what.push_back("ISR " + Ids(c.isr()));
        if (c.set_replicas()) what.push_back("replicas " + Ids(c.replicas()));
        if (c.set_reassignment()) {
          what.push_back(fmt::format("reassignment adding {} removing {}",
                                     Ids(c.adding_replicas()), Ids(c.removing_replicas())));
        }
        std::string epoch;
        if (auto id = TopicId::FromBytes(c.topic_id())) {
          const TopicImage* t = after.topic(*id);
          if (t != nullptr && c.partition() >= 0 &&
              c.partition() < static_cast<int32_t>(t->partitions.size())) {
            epoch = fmt::format(" (leader epoch {})",
                                t->partitions[static_cast<size_t>(c.partition())].leader_epoch.value());
          }
        }
        out.push_back(fmt::format("partition {}-{}: {}{}", TopicName(after, c.topic_id()),
                                  c.partition(), fmt::join(what, ", "), epoch));
        break;
      }
      case v1::MetadataRecord::kRemoveTopic:
        out.push_back(fmt::format("topic {} deleted", TopicName(after, r.remove_topic().topic_id())));
        break;
      case v1::MetadataRecord::kConfig: {
        const auto& c = r.config();
        const char* type = c.resource_type() == v1::TOPIC ? "topic" : "broker";
        std::string name = c.resource_name().empty() ? "<cluster default>" : c.resource_name();
        out.push_back(c.remove() ? fmt::format("config {} {}: {} removed", type, name, c.name())
                                 : fmt::format("config {} {}: {}={}", type, name, c.name(),
                                               c.value()));
        break;
      }
      default:
        break;
    }
  }
  for (const auto& [id, n] : created_partitions) {
    out.push_back(fmt::format("topic {}: {} partition(s) created", TopicName(after, id), n));
  }
  if (partition_lines_dropped > 0) {
    out.push_back(fmt::format("... and {} more partition changes in this batch",
                              partition_lines_dropped));
  }
  return out;
}

}  // namespace strand::controller
