// Group records: see the header.
#include "broker/group/group_records.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace strand::broker::group {
namespace {

std::string SerializeKey(const v1::GroupRecordKey& key) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    key.SerializeToCodedStream(&coded);
  }
  return out;
}

template <typename Value>
GroupRecord Make(const v1::GroupRecordKey& key, const Value* value) {
  GroupRecord r;
  r.key = SerializeKey(key);
  if (value != nullptr) r.value = value->SerializeAsString();
  return r;
}

}  // namespace

GroupRecord OffsetRecord(std::string_view group, std::string_view topic, int32_t partition,
                         const v1::OffsetValue* value) {
  v1::GroupRecordKey key;
  key.mutable_offset()->set_group(std::string(group));
  key.mutable_offset()->set_topic(std::string(topic));
  key.mutable_offset()->set_partition(partition);
  return Make(key, value);
}

GroupRecord GroupMetadataRecord(std::string_view group, const v1::GroupValue* value) {
  v1::GroupRecordKey key;
  key.mutable_group()->set_group(std::string(group));
  return Make(key, value);
}

GroupRecord MemberRecord(std::string_view group, std::string_view member_id,
                         const v1::MemberValue* value) {
  v1::GroupRecordKey key;
  key.mutable_member()->set_group(std::string(group));
  key.mutable_member()->set_member_id(std::string(member_id));
  return Make(key, value);
}

absl::StatusOr<DecodedGroupRecord> DecodeGroupRecord(std::string_view key,
                                                     const std::optional<std::string_view>& value) {
  DecodedGroupRecord out;
  if (!out.key.ParseFromArray(key.data(), static_cast<int>(key.size()))) {
    return absl::InvalidArgumentError("group record key does not parse");
  }
  out.tombstone = !value.has_value();
  auto parse = [&](auto& slot, const char* what) -> absl::Status {
    if (out.tombstone) return absl::OkStatus();
    slot.emplace();
    if (!slot->ParseFromArray(value->data(), static_cast<int>(value->size()))) {
      return absl::InvalidArgumentError(absl::StrCat(what, " value does not parse"));
    }
    return absl::OkStatus();
  };
  absl::Status s;
  switch (out.key.key_case()) {
    case v1::GroupRecordKey::kOffset:
      s = parse(out.offset, "offset");
      break;
    case v1::GroupRecordKey::kGroup:
      s = parse(out.group, "group");
      break;
    case v1::GroupRecordKey::kMember:
      s = parse(out.member, "member");
      break;
    case v1::GroupRecordKey::KEY_NOT_SET:
      return absl::InvalidArgumentError("group record key of no known kind");
  }
  if (!s.ok()) return s;
  return out;
}

std::string_view GroupOfKey(const v1::GroupRecordKey& key) {
  switch (key.key_case()) {
    case v1::GroupRecordKey::kOffset:
      return key.offset().group();
    case v1::GroupRecordKey::kGroup:
      return key.group().group();
    case v1::GroupRecordKey::kMember:
      return key.member().group();
    case v1::GroupRecordKey::KEY_NOT_SET:
      break;
  }
  return {};
}

}  // namespace strand::broker::group
