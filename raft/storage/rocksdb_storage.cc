#include "raft/storage/rocksdb_storage.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/check.h"
#include "raft/core/errc.h"

namespace strand::raft {
namespace {

namespace fs = std::filesystem;

constexpr char kHardStateKey[] = "h";
constexpr char kSnapshotKey[] = "s";
constexpr uint8_t kFormatVersion = 1;

std::string EntryKey(LogIndex index) {
  std::string key(9, '\0');
  key[0] = 'e';
  uint64_t v = index.value();
  for (int i = 8; i >= 1; --i) {
    key[i] = static_cast<char>(v & 0xff);  // big-endian: keys sort by index
    v >>= 8;
  }
  return key;
}

LogIndex DecodeEntryKey(const rocksdb::Slice& key) {
  uint64_t index = 0;
  for (size_t i = 1; i < 9; ++i) index = (index << 8) | static_cast<uint8_t>(key[i]);
  return LogIndex(index);
}

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool GetFixed64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  *v = 0;
  for (int i = 0; i < 8; ++i) *v |= uint64_t{static_cast<uint8_t>((*in)[i])} << (8 * i);
  in->remove_prefix(8);
  return true;
}

std::string EncodeEntry(const Entry& e) {
  std::string out;
  out.reserve(e.data.size() + 10);
  out.push_back(static_cast<char>(kFormatVersion));
  PutFixed64(&out, e.term.value());
  out.push_back(static_cast<char>(e.type));
  out.append(e.data);
  return out;
}

std::string EncodeHardState(const HardState& hs) {
  std::string out(1, static_cast<char>(kFormatVersion));
  PutFixed64(&out, hs.term.value());
  PutFixed64(&out, static_cast<uint64_t>(static_cast<int64_t>(hs.vote.value())));
  PutFixed64(&out, hs.commit.value());
  return out;
}

// Snapshot metadata: version, index, term, crc32 and size of the file, voters, file name.
std::string EncodeSnapshotMeta(const SnapshotMeta& meta, uint64_t size, uint64_t crc,
                               const std::string& file) {
  std::string out(1, static_cast<char>(kFormatVersion));
  PutFixed64(&out, meta.index.value());
  PutFixed64(&out, meta.term.value());
  PutFixed64(&out, size);
  PutFixed64(&out, crc);
  PutFixed64(&out, meta.voters.size());
  for (NodeId v : meta.voters) PutFixed64(&out, static_cast<uint64_t>(v.value()));
  out.append(file);
  return out;
}

absl::Status Corrupt(std::string_view what) {
  return MakeError(Errc::kStorageFailure, fmt::format("corrupt raft storage: {}", what));
}

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return MakeError(Errc::kStorageFailure, fmt::format("{}: {}", what, s.ToString()));
}

absl::Status FsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0)
    return MakeError(Errc::kStorageFailure,
                     absl::StrCat("open ", path, ": ", std::strerror(errno)));
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) {
    return MakeError(Errc::kStorageFailure,
                     absl::StrCat("fsync ", path, ": ", std::strerror(saved)));
  }
  return absl::OkStatus();
}

uint64_t Crc(const std::string& data) {
  return crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data.data()),
               static_cast<uInt>(data.size()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocksDbStorage>> RocksDbStorage::Open(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "snapshots", ec);
  if (ec) return MakeError(Errc::kStorageFailure, absl::StrCat("create ", dir, ": ", ec.message()));
  rocksdb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  options.max_total_wal_size = 64 << 20;
  rocksdb::DB* raw = nullptr;
  STRAND_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, dir + "/db", &raw), "open raft db"));
  return std::unique_ptr<RocksDbStorage>(
      new RocksDbStorage(dir, std::unique_ptr<rocksdb::DB>(raw)));
}

RocksDbStorage::RocksDbStorage(std::string dir, std::unique_ptr<rocksdb::DB> db)
    : dir_(std::move(dir)), db_(std::move(db)) {}

RocksDbStorage::~RocksDbStorage() {
  if (db_) db_->Close().PermitUncheckedError();
}

absl::StatusOr<BootState> RocksDbStorage::Load() {
  BootState boot;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kHardStateKey, &value);
  if (s.ok()) {
    std::string_view in(value);
    uint64_t term, vote, commit;
    if (in.empty() || in[0] != kFormatVersion) return Corrupt("hard state version");
    in.remove_prefix(1);
    if (!GetFixed64(&in, &term) || !GetFixed64(&in, &vote) || !GetFixed64(&in, &commit)) {
      return Corrupt("hard state");
    }
    boot.hard_state = {Term(term), NodeId(static_cast<int32_t>(static_cast<int64_t>(vote))),
                       LogIndex(commit)};
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "read hard state");
  }
  s = db_->Get(rocksdb::ReadOptions(), kSnapshotKey, &value);
  if (s.ok()) {
    std::string_view in(value);
    uint64_t index, term, size, crc, voters;
    if (in.empty() || in[0] != kFormatVersion) return Corrupt("snapshot meta version");
    in.remove_prefix(1);
    if (!GetFixed64(&in, &index) || !GetFixed64(&in, &term) || !GetFixed64(&in, &size) ||
        !GetFixed64(&in, &crc) || !GetFixed64(&in, &voters)) {
      return Corrupt("snapshot meta");
    }
    boot.snapshot.meta = {LogIndex(index), Term(term), {}};
    for (uint64_t i = 0; i < voters; ++i) {
      uint64_t v;
      if (!GetFixed64(&in, &v)) return Corrupt("snapshot voters");
      boot.snapshot.meta.voters.push_back(NodeId(static_cast<int32_t>(v)));
    }
    const std::string path = dir_ + "/snapshots/" + std::string(in);
    std::ifstream file(path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (!file.good() && !file.eof()) return Corrupt(absl::StrCat("cannot read ", path));
    if (data.size() != size || Crc(data) != crc) {
      return Corrupt(absl::StrCat("snapshot file ", path, " does not match its checksum"));
    }
    boot.snapshot.data = std::make_shared<const std::string>(std::move(data));
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "read snapshot meta");
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  const LogIndex after = boot.snapshot.meta.index;
  // Entries at or below the snapshot (kept for slow followers) are stored but not loaded; the
  // next compaction deletes them from the true first stored index.
  first_stored_ = after + 1;
  it->Seek(EntryKey(LogIndex(0)));
  if (it->Valid() && it->key().starts_with("e")) first_stored_ = DecodeEntryKey(it->key());
  for (it->Seek(EntryKey(after + 1)); it->Valid() && it->key().starts_with("e"); it->Next()) {
    const uint64_t index = DecodeEntryKey(it->key()).value();
    std::string_view in(it->value().data(), it->value().size());
    uint64_t term;
    if (in.empty() || in[0] != kFormatVersion) return Corrupt("entry version");
    in.remove_prefix(1);
    if (!GetFixed64(&in, &term) || in.empty()) return Corrupt("entry header");
    const auto type = static_cast<EntryType>(static_cast<uint8_t>(in[0]));
    in.remove_prefix(1);
    const LogIndex expected = boot.entries.empty() ? after + 1 : boot.entries.back().index + 1;
    if (LogIndex(index) != expected) {
      return Corrupt(
          absl::StrCat("gap in the log: expected entry ", expected.value(), ", found ", index));
    }
    boot.entries.push_back(Entry{Term(term), LogIndex(index), type, std::string(in)});
  }
  STRAND_RETURN_IF_ERROR(FromRocks(it->status(), "scan entries"));
  last_stored_ = boot.entries.empty() ? after : boot.entries.back().index;
  return boot;
}

absl::Status RocksDbStorage::WriteSnapshotFile(const Snapshot& snapshot, std::string* file_name) {
  *file_name = absl::StrCat(snapshot.meta.index.value(), "-", snapshot.meta.term.value(), ".snap");
  const std::string dir = dir_ + "/snapshots";
  const std::string tmp = dir + "/" + *file_name + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(snapshot.data->data(), static_cast<std::streamsize>(snapshot.data->size()));
    out.flush();
    if (!out.good()) return MakeError(Errc::kStorageFailure, absl::StrCat("write ", tmp));
  }
  STRAND_RETURN_IF_ERROR(FsyncPath(tmp, O_RDONLY));
  std::error_code ec;
  fs::rename(tmp, dir + "/" + *file_name, ec);
  if (ec) return MakeError(Errc::kStorageFailure, absl::StrCat("rename ", tmp, ": ", ec.message()));
  return FsyncPath(dir, O_RDONLY | O_DIRECTORY);
}

void RocksDbStorage::RemoveSnapshotFilesExcept(const std::string& keep) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ + "/snapshots", ec)) {
    if (entry.path().filename() != keep) fs::remove(entry.path(), ec);
  }
}

absl::Status RocksDbStorage::Persist(const std::optional<HardState>& hard_state,
                                     const std::optional<Snapshot>& snapshot,
                                     const std::vector<Entry>& entries, bool sync) {
  rocksdb::WriteBatch batch;
  std::string snapshot_file;
  if (snapshot) {
    // The file must be durable before the metadata naming it is written.
    STRAND_RETURN_IF_ERROR(WriteSnapshotFile(*snapshot, &snapshot_file));
    batch.Put(kSnapshotKey, EncodeSnapshotMeta(snapshot->meta, snapshot->data->size(),
                                               Crc(*snapshot->data), snapshot_file));
    // The snapshot replaces the whole log.
    if (last_stored_ >= first_stored_) {
      batch.DeleteRange(EntryKey(first_stored_), EntryKey(last_stored_ + 1));
    }
    first_stored_ = snapshot->meta.index + 1;
    last_stored_ = snapshot->meta.index;
  }
  if (!entries.empty()) {
    const LogIndex first = entries.front().index;
    if (first <= last_stored_) batch.DeleteRange(EntryKey(first), EntryKey(last_stored_ + 1));
    for (const Entry& e : entries) batch.Put(EntryKey(e.index), EncodeEntry(e));
    if (first_stored_ > first || last_stored_ < first_stored_) first_stored_ = first;
    last_stored_ = entries.back().index;
  }
  if (hard_state) batch.Put(kHardStateKey, EncodeHardState(*hard_state));
  if (batch.Count() == 0) return absl::OkStatus();
  rocksdb::WriteOptions options;
  options.sync = sync || snapshot.has_value();
  STRAND_RETURN_IF_ERROR(FromRocks(db_->Write(options, &batch), "persist raft state"));
  if (options.sync) ++syncs_;
  if (snapshot) RemoveSnapshotFilesExcept(snapshot_file);
  return absl::OkStatus();
}

absl::Status RocksDbStorage::SaveSnapshot(const Snapshot& snapshot, LogIndex compact_to) {
  std::string file;
  STRAND_RETURN_IF_ERROR(WriteSnapshotFile(snapshot, &file));
  rocksdb::WriteBatch batch;
  batch.Put(kSnapshotKey,
            EncodeSnapshotMeta(snapshot.meta, snapshot.data->size(), Crc(*snapshot.data), file));
  if (compact_to >= first_stored_) {
    batch.DeleteRange(EntryKey(first_stored_), EntryKey(compact_to + 1));
    first_stored_ = compact_to + 1;
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  STRAND_RETURN_IF_ERROR(FromRocks(db_->Write(options, &batch), "save snapshot"));
  ++syncs_;
  RemoveSnapshotFilesExcept(file);
  return absl::OkStatus();
}

}  // namespace strand::raft
