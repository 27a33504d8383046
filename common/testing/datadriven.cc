#include "common/testing/datadriven.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"

namespace strand::testing {
namespace {

constexpr std::string_view kSeparator = "----";

// (The standard library's string_view throughout: this abseil build's absl::string_view is its
// own type, so absl's string helpers would need a conversion at every call.)
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsBlank(std::string_view line) { return Trim(line).empty(); }

// Splits on `sep`; "a,b," gives {"a", "b", ""}.
std::vector<std::string> Split(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t pos; (pos = text.find(sep, start)) != std::string_view::npos; start = pos + 1) {
    out.emplace_back(text.substr(start, pos - start));
  }
  out.emplace_back(text.substr(start));
  return out;
}

std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> lines = Split(text, '\n');
  // "a\nb\n" splits into {"a", "b", ""}: the last, empty piece is not a line.
  if (lines.back().empty()) lines.pop_back();
  return lines;
}

// Splits a command line into words; a word may hold a parenthesized list (`k=(1, 2)`) or a
// double-quoted string (`"two words"`, quotes removed) with spaces inside.
absl::StatusOr<std::vector<std::string>> Words(std::string_view line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    if (i == line.size()) break;
    std::string word;
    while (i < line.size() && !IsSpace(line[i])) {
      const char c = line[i];
      if (c == '(' || c == '"') {
        const char close = c == '(' ? ')' : '"';
        const size_t end = line.find(close, i + 1);
        if (end == std::string_view::npos) {
          return absl::InvalidArgumentError(fmt::format("unbalanced {}", c));
        }
        if (c == '(') word.append(line.substr(i, end - i + 1));
        if (c == '"') word.append(line.substr(i + 1, end - i - 1));
        i = end + 1;
        continue;
      }
      word.push_back(c);
      ++i;
    }
    words.push_back(std::move(word));
  }
  return words;
}

CommandArg ParseArg(const std::string& word) {
  CommandArg arg;
  const size_t eq = word.find('=');
  if (eq == std::string::npos) {
    arg.key = word;
    return arg;
  }
  arg.key = word.substr(0, eq);
  std::string_view value = std::string_view(word).substr(eq + 1);
  if (value.size() >= 2 && value.front() == '(' && value.back() == ')') {
    value = value.substr(1, value.size() - 2);
    for (const std::string& v : Split(value, ',')) {
      if (!IsBlank(v)) arg.values.emplace_back(Trim(v));
    }
  } else {
    arg.values.emplace_back(value);
  }
  return arg;
}

std::string WithFinalNewline(std::string text) {
  if (!text.empty() && text.back() != '\n') text.push_back('\n');
  return text;
}

// Whether an output must be written between doubled separators: a blank line would otherwise
// end it early.
bool NeedsDoubling(std::string_view output) {
  for (const std::string& line : Split(output, '\n')) {
    if (IsBlank(line) || line == kSeparator) return true;
  }
  return false;
}

bool NeedsDoublingOutput(const std::string& output) {
  if (output.empty()) return false;
  // The final '\n' leaves an empty piece that is not a line.
  return NeedsDoubling(std::string_view(output).substr(0, output.size() - 1));
}

struct Parser {
  std::vector<std::string> lines;
  std::string file;
  size_t i = 0;

  absl::Status Error(size_t line_index, std::string_view what) const {
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}", file, line_index + 1, what));
  }

  // Reads the output after `----`; returns whether a blank line ended the block.
  absl::StatusOr<bool> ReadOutput(Block& block) {
    if (i < lines.size() && lines[i] == kSeparator) {
      block.doubled = true;
      const size_t start = i++;
      while (i + 1 < lines.size() && !(lines[i] == kSeparator && lines[i + 1] == kSeparator)) {
        block.expected += lines[i++] + "\n";
      }
      if (i + 1 >= lines.size()) return Error(start, "doubled ---- output is never closed");
      i += 2;
      if (i < lines.size() && !IsBlank(lines[i])) {
        return Error(i, "a blank line must follow a doubled ---- output");
      }
    } else {
      while (i < lines.size() && !IsBlank(lines[i])) block.expected += lines[i++] + "\n";
    }
    if (i < lines.size()) {
      ++i;  // the blank line that ends the block
      return true;
    }
    return false;
  }

  absl::StatusOr<Script> Parse() {
    Script script;
    std::string leading;
    while (i < lines.size()) {
      const std::string& line = lines[i];
      if (IsBlank(line) || Trim(line).starts_with("#")) {
        leading += line + "\n";
        ++i;
        continue;
      }
      Block block;
      block.leading = std::exchange(leading, {});
      Command& cmd = block.command;
      cmd.file = file;
      cmd.line = static_cast<int>(i + 1);
      cmd.raw = line;
      auto words = Words(line);
      if (!words.ok()) return Error(i, std::string(words.status().message()));
      cmd.name = (*words)[0];
      for (size_t w = 1; w < words->size(); ++w) cmd.args.push_back(ParseArg((*words)[w]));
      const size_t command_index = i++;
      while (i < lines.size() && lines[i] != kSeparator) block.input_raw += lines[i++] + "\n";
      if (i == lines.size()) return Error(command_index, "command has no ---- separator");
      ++i;
      cmd.input = block.input_raw;
      auto terminated = ReadOutput(block);
      if (!terminated.ok()) return terminated.status();
      block.terminated = *terminated;
      script.blocks.push_back(std::move(block));
    }
    script.trailing = leading;
    return script;
  }
};

void AppendBlock(std::string& out, const Block& block, const std::string& output) {
  out += block.leading;
  out += block.command.raw + "\n";
  out += block.input_raw;
  out += std::string(kSeparator) + "\n";
  if (NeedsDoublingOutput(output)) {
    out += std::string(kSeparator) + "\n" + output + std::string(kSeparator) + "\n" +
           std::string(kSeparator) + "\n";
  } else {
    out += output;
  }
  if (block.terminated) out += "\n";
}

}  // namespace

const CommandArg* Command::Find(std::string_view key) const {
  for (const CommandArg& arg : args) {
    if (arg.key == key) return &arg;
  }
  return nullptr;
}

bool Command::Has(std::string_view key) const { return Find(key) != nullptr; }

std::optional<std::string> Command::Value(std::string_view key) const {
  const CommandArg* arg = Find(key);
  if (arg == nullptr) return std::nullopt;
  if (arg->values.size() != 1) {
    ReportError(fmt::format("argument {} needs exactly one value", key));
    return std::nullopt;
  }
  return arg->values[0];
}

std::string Command::ValueOr(std::string_view key, std::string_view fallback) const {
  return Value(key).value_or(std::string(fallback));
}

int64_t Command::IntOr(std::string_view key, int64_t fallback) const {
  const std::optional<std::string> value = Value(key);
  if (!value) return fallback;
  int64_t out = 0;
  if (!absl::SimpleAtoi(*value, &out)) {
    ReportError(fmt::format("argument {}={} is not an integer", key, *value));
    return fallback;
  }
  return out;
}

bool Command::BoolOr(std::string_view key, bool fallback) const {
  const std::optional<std::string> value = Value(key);
  if (!value) return fallback;
  bool out = false;
  if (!absl::SimpleAtob(*value, &out)) {
    ReportError(fmt::format("argument {}={} is not a boolean", key, *value));
    return fallback;
  }
  return out;
}

std::vector<std::string> Command::Positional() const {
  std::vector<std::string> out;
  for (const CommandArg& arg : args) {
    if (arg.values.empty()) out.push_back(arg.key);
  }
  return out;
}

std::vector<int64_t> Command::IntList(std::string_view key) const {
  std::vector<int64_t> out;
  const CommandArg* arg = Find(key);
  if (arg == nullptr) return out;
  for (const std::string& v : arg->values) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(v, &n)) {
      ReportError(fmt::format("argument {} has a non-integer value {}", key, v));
      continue;
    }
    out.push_back(n);
  }
  return out;
}

void Command::ReportError(std::string_view message) const {
  ADD_FAILURE_AT(file.c_str(), line) << raw << ": " << message;
}

absl::StatusOr<Script> ParseScript(std::string_view text, std::string_view file) {
  Parser parser{SplitLines(text), std::string(file)};
  return parser.Parse();
}

RunResult RunScript(const Script& script, const Handler& handler) {
  RunResult result;
  for (const Block& block : script.blocks) {
    const std::string actual = WithFinalNewline(handler(block.command));
    if (actual != block.expected) {
      result.mismatches.push_back(Mismatch{block.command.file, block.command.line,
                                           block.command.raw, block.expected, actual});
    }
    AppendBlock(result.rewritten, block, actual);
  }
  result.rewritten += script.trailing;
  return result;
}

std::string LineDiff(std::string_view expected, std::string_view actual) {
  const std::vector<std::string> a = SplitLines(expected);
  const std::vector<std::string> b = SplitLines(actual);
  // Longest common subsequence of lines; outputs are short, so the quadratic table is fine.
  std::vector<std::vector<size_t>> lcs(a.size() + 1, std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;) {
    for (size_t j = b.size(); j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      out += "  " + a[i++] + "\n";
      ++j;
    } else if (i < a.size() && (j == b.size() || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out += "- " + a[i++] + "\n";  // removals first, as diff prints them
    } else {
      out += "+ " + b[j++] + "\n";
    }
  }
  return out;
}

std::string DescribeMismatch(const Mismatch& m) {
  return fmt::format(
      "{}:{}: output of `{}` differs (- expected, + actual):\n{}Rerun with STRAND_REWRITE=1 to "
      "record the actual output, then review the script's git diff.",
      m.file, m.line, m.command, LineDiff(m.expected, m.actual));
}

bool RunOptions::RewriteRequested() {
  const char* value = std::getenv("STRAND_REWRITE");
  return value != nullptr && std::string_view(value) == "1";
}

void RunFile(const std::string& path, const Handler& handler, RunOptions options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read script " << path;
    return;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  auto script = ParseScript(text, path);
  if (!script.ok()) {
    ADD_FAILURE() << script.status().message();
    return;
  }
  const RunResult result = RunScript(*script, handler);
  if (options.rewrite) {
    if (result.rewritten == text) return;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << result.rewritten;
    if (!out) ADD_FAILURE() << "cannot rewrite script " << path;
    return;
  }
  for (const Mismatch& m : result.mismatches) {
    ADD_FAILURE_AT(m.file.c_str(), m.line) << DescribeMismatch(m);
  }
}

std::vector<std::string> ListFiles(const std::string& dir, std::string_view suffix) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string path = entry.path().string();
    if (entry.is_regular_file() && path.ends_with(suffix)) out.push_back(path);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace strand::testing
