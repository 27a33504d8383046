#include "storage/log_checkpoint.h"

#include <fmt/format.h>

#include <charconv>
#include <cinttypes>
#include <cstdio>

#include "common/crc32c.h"
#include "storage/errc.h"

namespace strand::storage {

std::string LogCheckpoint::Serialize() const {
  std::string body = fmt::format(
      "strand-log-checkpoint 1\nrecovery_point {}\nlog_start_offset {}\nhigh_watermark {}\n"
      "cleaner_offset {}\nclean_shutdown {} {} {} {}\n",
      recovery_point, log_start_offset, high_watermark, cleaner_offset, clean_shutdown ? 1 : 0,
      clean_log_end_offset, clean_active_base, clean_active_size);
  return body + fmt::format("crc32c {:08x}\n", Crc32c(std::string_view(body)));
}

absl::StatusOr<LogCheckpoint> LogCheckpoint::Parse(std::string_view text) {
  auto bad = [](std::string_view why) {
    return StorageError(Errc::kCorruptLog, fmt::format("log.checkpoint: {}", why));
  };
  size_t crc_at = text.rfind("crc32c ");
  if (crc_at == std::string_view::npos) return bad("no crc32c line");
  std::string_view body = text.substr(0, crc_at);
  uint32_t stored = 0;
  std::string_view hex = text.substr(crc_at + 7);
  if (!hex.empty() && hex.back() == '\n') hex.remove_suffix(1);
  auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), stored, 16);
  if (ec != std::errc() || p != hex.data() + hex.size()) return bad("malformed crc32c line");
  if (Crc32c(body) != stored) return bad("checksum mismatch");

  LogCheckpoint c;
  int version = 0, clean = 0;
  int64_t rp, start, hw, cleaner, leo, base, size;
  std::string copy(body);
  int n =
      std::sscanf(copy.c_str(),
                  "strand-log-checkpoint %d\nrecovery_point %" SCNd64 "\nlog_start_offset %" SCNd64
                  "\nhigh_watermark %" SCNd64 "\ncleaner_offset %" SCNd64
                  "\nclean_shutdown %d %" SCNd64 " %" SCNd64 " %" SCNd64 "\n",
                  &version, &rp, &start, &hw, &cleaner, &clean, &leo, &base, &size);
  if (n != 9 || version != 1) return bad("unexpected layout or version");
  if (rp < 0 || start < 0 || hw < 0 || cleaner < 0 || leo < 0 || base < 0 || size < 0) {
    return bad("negative offset");
  }
  c.recovery_point = Offset(rp);
  c.log_start_offset = Offset(start);
  c.high_watermark = Offset(hw);
  c.cleaner_offset = Offset(cleaner);
  c.clean_shutdown = clean == 1;
  c.clean_log_end_offset = Offset(leo);
  c.clean_active_base = Offset(base);
  c.clean_active_size = size;
  return c;
}

}  // namespace strand::storage
