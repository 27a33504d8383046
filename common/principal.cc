#include "common/principal.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

#include "absl/strings/ascii.h"

namespace strand {
namespace {

constexpr char kSetting[] = "ssl.principal.mapping.rules";

// Reads up to the next unescaped '/' from `s` at `i`, turning "\/" into "/".
std::optional<std::string> ReadPart(std::string_view s, size_t& i) {
  std::string out;
  for (; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '/') {
      out += '/';
      ++i;
    } else if (s[i] == '/') {
      ++i;
      return out;
    } else {
      out += s[i];
    }
  }
  return std::nullopt;
}

void SkipSpace(std::string_view s, size_t& i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
}

}  // namespace

absl::StatusOr<PrincipalMapper> PrincipalMapper::Parse(std::string_view rules) {
  PrincipalMapper m;
  size_t i = 0;
  for (;;) {
    SkipSpace(rules, i);
    if (i >= rules.size()) break;
    const size_t start = i;
    Rule r;
    if (rules.substr(i, 7) == "DEFAULT") {
      r.is_default = true;
      i += 7;
    } else if (rules.substr(i, 5) == "RULE:") {
      i += 5;
      auto pattern = ReadPart(rules, i);
      auto replacement = pattern ? ReadPart(rules, i) : std::nullopt;
      if (!replacement) {
        return absl::InvalidArgumentError(fmt::format(
            "{}: '{}' is not RULE:pattern/replacement/[L|U]", kSetting, rules.substr(start)));
      }
      if (i < rules.size() && (rules[i] == 'L' || rules[i] == 'U')) r.case_change = rules[i++];
      try {
        r.pattern = std::regex(*pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return absl::InvalidArgumentError(
            fmt::format("{}: pattern '{}' is not a valid regular expression: {}", kSetting,
                        *pattern, e.what()));
      }
      r.replacement = *replacement;
    } else {
      return absl::InvalidArgumentError(fmt::format(
          "{}: '{}' is neither DEFAULT nor RULE:pattern/replacement/[L|U]", kSetting,
          rules.substr(start)));
    }
    r.text = std::string(rules.substr(start, i - start));
    SkipSpace(rules, i);
    if (i < rules.size() && rules[i] != ',') {
      return absl::InvalidArgumentError(fmt::format(
          "{}: unexpected '{}' after rule '{}' (rules are separated by commas)", kSetting,
          rules.substr(i), r.text));
    }
    if (i < rules.size()) ++i;
    m.rules_.push_back(std::move(r));
  }
  if (m.rules_.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: no rules (use DEFAULT)", kSetting));
  }
  return m;
}

absl::StatusOr<std::string> PrincipalMapper::Map(std::string_view dn) const {
  const std::string subject(dn);
  for (const Rule& r : rules_) {
    if (r.is_default) return subject;
    if (!std::regex_match(subject, r.pattern)) continue;
    std::string out = std::regex_replace(subject, r.pattern, r.replacement);
    if (r.case_change == 'L') out = absl::AsciiStrToLower(out);
    if (r.case_change == 'U') out = absl::AsciiStrToUpper(out);
    return out;
  }
  return absl::PermissionDeniedError(
      fmt::format("no rule of {} matches the certificate subject '{}'", kSetting, subject));
}

std::optional<int64_t> NodeOfPrincipal(std::string_view principal) {
  constexpr std::string_view prefix = kNodePrincipalPrefix;
  if (principal.substr(0, prefix.size()) != prefix) return std::nullopt;
  const std::string_view digits = principal.substr(prefix.size());
  if (digits.empty() || digits.size() > 10 || (digits.size() > 1 && digits[0] == '0')) {
    return std::nullopt;
  }
  int64_t node = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), node);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || node < 0) return std::nullopt;
  return node;
}

std::string NodePrincipal(int64_t node) { return fmt::format("{}{}", kNodePrincipalPrefix, node); }

}  // namespace strand
