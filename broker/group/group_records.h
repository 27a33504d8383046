#pragma once

// The records a group coordinator writes to its `__consumer_offsets` partition
// (proto/group/v1/records.proto): a key naming what the record is about and a value, or no value
// for a tombstone. Keys are serialized deterministically, so one thing always has the same key
// bytes and compaction keeps only its newest record.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "proto/group/v1/records.pb.h"

namespace strand::broker::group {

namespace v1 = ::strand::group::v1;

struct GroupRecord {
  std::string key;                   // a serialized v1::GroupRecordKey
  std::optional<std::string> value;  // a serialized value; nullopt: a tombstone
};

GroupRecord OffsetRecord(std::string_view group, std::string_view topic, int32_t partition,
                         const v1::OffsetValue* value);
GroupRecord GroupMetadataRecord(std::string_view group, const v1::GroupValue* value);
GroupRecord MemberRecord(std::string_view group, std::string_view member_id,
                         const v1::MemberValue* value);

// A record read back: its key, and its value parsed by the key's kind (none for a tombstone).
struct DecodedGroupRecord {
  v1::GroupRecordKey key;
  std::optional<v1::OffsetValue> offset;
  std::optional<v1::GroupValue> group;
  std::optional<v1::MemberValue> member;
  bool tombstone = false;
};

// InvalidArgument for a key or value that does not parse, or a key of no known kind (a record a
// newer version wrote: the caller decides whether to skip it).
absl::StatusOr<DecodedGroupRecord> DecodeGroupRecord(std::string_view key,
                                                     const std::optional<std::string_view>& value);

// The group a key belongs to ("" when it names none).
std::string_view GroupOfKey(const v1::GroupRecordKey& key);

}  // namespace strand::broker::group
