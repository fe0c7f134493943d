// Parsing, validation and rendering of job specs (taskgrid/job_spec.h).
//
// The parser walks the yaml-cpp node tree with one small helper, FieldMap: it
// checks a YAML map against the field names allowed there (unknown,
// duplicate and non-scalar keys are errors) and hands out its fields by name.
// Typed readers (ReadString, ReadInt, ReadDuration, ...) each convert one
// field and point their error at it. Semantic checks that span fields (the
// processor, its models, input vs model) run once the structure is read.

#include "taskgrid/job_spec.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/status_macros.h"
#include "taskgrid/processor.h"

namespace taskgrid {
namespace {

constexpr int kMaxAttemptsLimit = 1000;
// Guards on `params`: aliases let a short document describe a cyclic or
// exponentially large tree, which flattening must not follow forever.
constexpr int kMaxParamsDepth = 64;
constexpr int64_t kMaxParamsNodes = 100'000;

constexpr Model kAllModelValues[] = {Model::kStandalone, Model::kBroadcast,
                                     Model::kMap, Model::kMapReduce,
                                     Model::kShuffle};
constexpr int kMaxPartitions = 100'000;

using Names = std::span<const std::string_view>;

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

bool HexDecode(std::string_view hex, std::string* out) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return false;
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}
constexpr std::string_view kTopFields[] = {
    "name",   "key",          "processor", "model",  "input",
    "params", "retry",        "timeout",   "output", "partitions",
    "memory", "range_splits", "stages",    "then",   "chain"};
// One stage of a chain (items of `stages` and of the stored `then`).
constexpr std::string_view kStageFields[] = {
    "name",   "processor",  "model",  "params", "retry",       "timeout",
    "output", "partitions", "memory", "split",  "range_splits"};
// What a chain gives per stage, never at its top.
constexpr std::string_view kPerStageFields[] = {
    "processor", "model", "params", "partitions", "memory", "range_splits"};
constexpr std::string_view kChainFields[] = {"stage", "of", "after"};
// A chain's length is bounded so a stored spec stays small.
constexpr int kMaxStages = 100;
constexpr std::string_view kInputFields[] = {"range", "list", "files", "split"};
constexpr std::string_view kRangeFields[] = {"start", "end", "step"};
constexpr std::string_view kRetryFields[] = {"max_attempts", "backoff"};

std::string Join(Names parts) {
  std::string s;
  for (std::string_view p : parts) {
    if (!s.empty()) s += ", ";
    s += p;
  }
  return s;
}

// Quotes user text for a message, cut to a readable length on a UTF-8
// character boundary.
std::string Quote(std::string_view text) {
  constexpr size_t kMax = 60;
  std::string s = "'";
  if (text.size() <= kMax) {
    s += text;
  } else {
    size_t n = kMax;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    s += text.substr(0, n);
    s += "...";
  }
  return s + "'";
}

// What a node is, for "expected X, got Y".
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// Optimal string alignment distance (Levenshtein plus transpositions).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1,
                                     std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The closest allowed name within distance 2, or "" when none is close. A
// one- or two-letter key is not "close" to everything of its length + 2.
std::string_view Suggest(std::string_view unknown, Names allowed) {
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view name : allowed) {
    // Lengths alone put it out of reach (and keep a huge key cheap).
    if (std::max(unknown.size(), name.size()) -
            std::min(unknown.size(), name.size()) >
        2) {
      continue;
    }
    size_t dist = EditDistance(unknown, name);
    if (dist < best_distance && dist < unknown.size()) {
      best = name;
      best_distance = dist;
    }
  }
  return best;
}

// Builds "<source>:<line>:<col>: <what>" errors, 1-based.
class Errors {
 public:
  explicit Errors(std::string_view source) : source_(source) {}

  Status At(const YAML::Mark& mark, std::string_view what) const {
    std::string m = source_;
    if (!mark.is_null()) {
      m += ":" + std::to_string(mark.line + 1) + ":" +
           std::to_string(mark.column + 1);
    }
    m += ": ";
    m += what;
    return InvalidArgumentError(m);
  }

 private:
  std::string source_;
};

// Every key of a YAML map must be a non-empty scalar, and appear once
// (yaml-cpp keeps duplicates and lookups silently see only one of them).
// `context` names the map in messages.
Status CheckMapKeys(const Errors& errors, const YAML::Node& map,
                    std::string_view context) {
  std::map<std::string, YAML::Mark, std::less<>> seen;
  // Range-for keeps each entry alive; `it->first` would reference a
  // temporary proxy of yaml-cpp's iterator.
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar() || key.Scalar().empty()) {
      return errors.At(key.Mark(), "expected a field name in " +
                                       std::string(context) + ", got " +
                                       Describe(key));
    }
    auto [prev, inserted] = seen.emplace(key.Scalar(), key.Mark());
    if (!inserted) {
      return errors.At(key.Mark(),
                       "duplicate field " + Quote(key.Scalar()) + " in " +
                           std::string(context) + " (first at line " +
                           std::to_string(prev->second.line + 1) + ")");
    }
  }
  return OkStatus();
}

struct Field {
  std::string name;
  YAML::Node key;
  YAML::Node value;

  // Where errors about the value point. yaml-cpp places an empty value at
  // the next token (often the next line), so those point at the key.
  YAML::Mark mark() const { return value.IsNull() ? key.Mark() : value.Mark(); }
  // "field 'name': <what>"
  std::string Say(std::string_view what) const {
    return "field " + Quote(name) + ": " + std::string(what);
  }
};

// A YAML map whose keys are checked against the fields allowed there.
class FieldMap {
 public:
  // `context` is "the job spec" at the top level, else the parent field.
  static StatusOr<FieldMap> Read(const Errors& errors, const YAML::Node& node,
                                 const YAML::Mark& where,
                                 std::string_view context, Names allowed) {
    if (!node.IsMap()) {
      return errors.At(where, std::string(context) +
                                  ": expected a map (fields: " + Join(allowed) +
                                  "), got " + Describe(node));
    }
    RETURN_IF_ERROR(CheckMapKeys(errors, node, context));
    FieldMap fields(errors, node.Mark(), context);
    for (const auto& entry : node) {
      std::string name = entry.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        std::string what = "unknown field " + Quote(name);
        if (context != kTop) what += " in " + std::string(context);
        std::string_view suggestion = Suggest(name, allowed);
        if (!suggestion.empty()) {
          what += " (did you mean " + Quote(suggestion) + "?)";
        } else {
          what += " (expected one of: " + Join(allowed) + ")";
        }
        return errors.At(entry.first.Mark(), what);
      }
      fields.fields_.push_back(Field{name, entry.first, entry.second});
    }
    return fields;
  }

  static StatusOr<FieldMap> Read(const Errors& errors, const Field& field,
                                 Names allowed) {
    return Read(errors, field.value, field.mark(), "field " + Quote(field.name),
                allowed);
  }

  // nullptr when absent.
  const Field* Find(std::string_view name) const {
    for (const Field& f : fields_) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }

  StatusOr<const Field*> Require(std::string_view name) const {
    const Field* f = Find(name);
    if (f != nullptr) return f;
    std::string what = "missing required field " + Quote(name);
    if (context_ != kTop) what += " in " + context_;
    return errors_->At(mark_, what);
  }

  const YAML::Mark& mark() const { return mark_; }

  static constexpr std::string_view kTop = "the job spec";

 private:
  FieldMap(const Errors& errors, YAML::Mark mark, std::string_view context)
      : errors_(&errors), mark_(mark), context_(context) {}

  const Errors* errors_;  // outlives the FieldMap (one parse)
  YAML::Mark mark_;
  std::string context_;
  std::vector<Field> fields_;
};

// --- Typed readers: each converts one field's value. ---

StatusOr<std::string> ReadString(const Errors& errors, const Field& f) {
  if (!f.value.IsScalar()) {
    return errors.At(f.mark(),
                     f.Say("expected a string, got " + Describe(f.value)));
  }
  return f.value.Scalar();
}

StatusOr<std::string> ReadNonEmptyString(const Errors& errors, const Field& f) {
  ASSIGN_OR_RETURN(std::string s, ReadString(errors, f));
  if (s.empty()) {
    return errors.At(f.mark(), f.Say("expected a non-empty string, got ''"));
  }
  return s;
}

// A whole decimal int64: no sign other than '-', no fraction, no overflow.
StatusOr<int64_t> ReadInt(const Errors& errors, const Field& f) {
  if (!f.value.IsScalar()) {
    return errors.At(f.mark(),
                     f.Say("expected an integer, got " + Describe(f.value)));
  }
  const std::string& t = f.value.Scalar();
  int64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec == std::errc::result_out_of_range) {
    return errors.At(f.mark(), f.Say("expected a 64-bit integer, got " +
                                     Quote(t) + " (out of range)"));
  }
  if (ec != std::errc() || p != t.data() + t.size()) {
    return errors.At(f.mark(), f.Say("expected an integer, got " + Quote(t)));
  }
  return v;
}

// "<digits><unit>", unit one of ms, s, m, h.
StatusOr<std::chrono::milliseconds> ReadDuration(const Errors& errors,
                                                 const Field& f) {
  static constexpr char kHelp[] =
      "expected a duration: an integer with a unit ms, s, m or h (e.g. "
      "'250ms', '30s'), got ";
  if (!f.value.IsScalar()) {
    return errors.At(f.mark(), f.Say(kHelp + Describe(f.value)));
  }
  const std::string& t = f.value.Scalar();
  const bool negative = !t.empty() && t[0] == '-';
  const char* begin = t.data() + (negative ? 1 : 0);
  const char* end = t.data() + t.size();
  int64_t n = 0;
  auto [p, ec] = std::from_chars(begin, end, n);
  if (ec == std::errc::result_out_of_range) {
    return errors.At(f.mark(), f.Say("duration out of range: " + Quote(t)));
  }
  if (ec != std::errc() || *begin == '-' || *begin == '+') {
    return errors.At(f.mark(), f.Say(kHelp + Quote(t)));
  }
  if (negative) {
    return errors.At(f.mark(),
                     f.Say("duration must not be negative, got " + Quote(t)));
  }
  const std::string_view unit(p, static_cast<size_t>(end - p));
  int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 60 * 60 * 1000;
  } else if (unit.empty() && n == 0) {
    return std::chrono::milliseconds(0);  // zero in every unit
  } else if (unit.empty()) {
    return errors.At(f.mark(),
                     f.Say("duration " + Quote(t) +
                           " needs a unit: ms, s, m or h (e.g. '" + t + "s')"));
  } else {
    return errors.At(f.mark(), f.Say(kHelp + Quote(t)));
  }
  if (n > std::numeric_limits<int64_t>::max() / scale) {
    return errors.At(f.mark(), f.Say("duration out of range: " + Quote(t)));
  }
  return std::chrono::milliseconds(n * scale);
}

// Reads optional field `name` into *out; leaves *out alone when absent.
template <typename T, typename Reader>
Status ReadOptional(const Errors& errors, const FieldMap& fields,
                    std::string_view name, Reader read, T* out) {
  const Field* f = fields.Find(name);
  if (f == nullptr) return OkStatus();
  ASSIGN_OR_RETURN(*out, read(errors, *f));
  return OkStatus();
}

template <typename T, typename Reader>
Status ReadRequired(const Errors& errors, const FieldMap& fields,
                    std::string_view name, Reader read, T* out) {
  ASSIGN_OR_RETURN(const Field* f, fields.Require(name));
  ASSIGN_OR_RETURN(*out, read(errors, *f));
  return OkStatus();
}

// --- Sections ---

constexpr auto kMaxPages =
    static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

// ceil((end - start) / step) for a valid range. end - start may not fit in
// int64 (e.g. INT64_MIN..INT64_MAX) but always fits in uint64.
uint64_t RangePages(const RangeInput& r) {
  if (r.step <= 0 || r.end <= r.start) return 0;
  const uint64_t span =
      static_cast<uint64_t>(r.end) - static_cast<uint64_t>(r.start);
  const auto step = static_cast<uint64_t>(r.step);
  return span / step + (span % step != 0 ? 1 : 0);
}

Status ReadRange(const Errors& errors, const Field& field, RangeInput* range) {
  ASSIGN_OR_RETURN(FieldMap fields,
                   FieldMap::Read(errors, field, kRangeFields));
  RETURN_IF_ERROR(
      ReadRequired(errors, fields, "start", ReadInt, &range->start));
  RETURN_IF_ERROR(ReadRequired(errors, fields, "end", ReadInt, &range->end));
  range->step = 1;
  RETURN_IF_ERROR(ReadOptional(errors, fields, "step", ReadInt, &range->step));
  if (range->step <= 0) {
    const Field& step = *fields.Find("step");
    return errors.At(step.mark(), step.Say("must be greater than 0, got " +
                                           std::to_string(range->step)));
  }
  if (range->end <= range->start) {
    return errors.At(field.mark(), "empty range: end (" +
                                       std::to_string(range->end) +
                                       ") must be greater than start (" +
                                       std::to_string(range->start) + ")");
  }
  if (RangePages(*range) > kMaxPages) {
    return errors.At(field.mark(),
                     "range too large: more than 2^63-1 pages; use a larger "
                     "step");
  }
  return OkStatus();
}

Status ReadList(const Errors& errors, const Field& field,
                std::vector<std::string>* list) {
  if (!field.value.IsSequence()) {
    return errors.At(field.mark(),
                     field.Say("expected a sequence of strings, got " +
                               Describe(field.value)));
  }
  if (field.value.size() == 0) {
    return errors.At(field.mark(), field.Say("must not be empty"));
  }
  list->clear();
  for (const YAML::Node& item : field.value) {
    if (!item.IsScalar()) {
      return errors.At(item.IsNull() ? field.mark() : item.Mark(),
                       field.Say("item " + std::to_string(list->size()) +
                                 ": expected a string, got " + Describe(item)));
    }
    list->push_back(item.Scalar());
  }
  return OkStatus();
}

Status ReadSplit(const Errors& errors, const Field& field, JobSpec* spec) {
  if (!field.value.IsScalar()) {
    return errors.At(field.mark(),
                     field.Say("expected 'file' or 'bytes:SIZE', got " +
                               Describe(field.value)));
  }
  const std::string& text = field.value.Scalar();
  if (text == "file") {
    spec->split_bytes = 0;
    return OkStatus();
  }
  constexpr std::string_view kBytes = "bytes:";
  if (text.rfind(kBytes, 0) != 0) {
    return errors.At(field.mark(),
                     field.Say("expected 'file' or 'bytes:SIZE' (e.g. "
                               "bytes:64MiB), got " +
                               Quote(text)));
  }
  auto size = ParseByteSize(std::string_view(text).substr(kBytes.size()));
  if (!size.ok()) {
    return errors.At(field.mark(), field.Say(size.status().message()));
  }
  spec->split_bytes = *size;
  return OkStatus();
}

// `stored_stage`: the spec of a chained stage after the first, whose files
// (what the stage before committed) may be none.
Status ReadInput(const Errors& errors, const Field& field, bool stored_stage,
                 JobSpec* spec) {
  ASSIGN_OR_RETURN(FieldMap fields,
                   FieldMap::Read(errors, field, kInputFields));
  const Field* range = fields.Find("range");
  const Field* list = fields.Find("list");
  const Field* files = fields.Find("files");
  const Field* split = fields.Find("split");
  const int given = (range != nullptr) + (list != nullptr) + (files != nullptr);
  if (given != 1) {
    return errors.At(
        field.mark(),
        field.Say(given == 0 ? "expected one of 'range', 'list' or 'files'"
                             : "expected one of 'range', 'list' or 'files', "
                               "not several"));
  }
  if (split != nullptr && files == nullptr) {
    return errors.At(split->mark(),
                     split->Say("only applies to a 'files' input"));
  }
  if (range != nullptr) {
    spec->input_kind = JobSpec::InputKind::kRange;
    return ReadRange(errors, *range, &spec->range);
  }
  if (files != nullptr) {
    spec->input_kind = JobSpec::InputKind::kFiles;
    if (files->value.IsScalar()) {
      spec->files = {files->value.Scalar()};
    } else if (stored_stage && files->value.IsSequence() &&
               files->value.size() == 0) {
      spec->files.clear();
    } else {
      RETURN_IF_ERROR(ReadList(errors, *files, &spec->files));
    }
    for (const std::string& f : spec->files) {
      if (f.empty()) {
        return errors.At(files->mark(), files->Say("empty glob pattern"));
      }
    }
    return split == nullptr ? OkStatus() : ReadSplit(errors, *split, spec);
  }
  spec->input_kind = JobSpec::InputKind::kList;
  return ReadList(errors, *list, &spec->list);
}

// The shuffle fields: partitions, memory, range_splits (hex keys).
Status ReadShuffle(const Errors& errors, const FieldMap& top, JobSpec* spec) {
  const Field* partitions = top.Find("partitions");
  const Field* memory = top.Find("memory");
  const Field* splits = top.Find("range_splits");
  if (spec->model != Model::kShuffle) {
    for (const Field* f : {partitions, memory, splits}) {
      if (f != nullptr) {
        return errors.At(f->key.Mark(),
                         f->Say("only applies to model 'shuffle'"));
      }
    }
    return OkStatus();
  }
  if (partitions != nullptr) {
    ASSIGN_OR_RETURN(int64_t n, ReadInt(errors, *partitions));
    if (n < 1 || n > kMaxPartitions) {
      return errors.At(partitions->mark(),
                       partitions->Say("must be between 1 and " +
                                       std::to_string(kMaxPartitions) +
                                       ", got " + std::to_string(n)));
    }
    spec->partitions = static_cast<int>(n);
  }
  if (memory != nullptr) {
    ASSIGN_OR_RETURN(std::string text, ReadString(errors, *memory));
    auto size = ParseByteSize(text);
    if (!size.ok()) {
      return errors.At(memory->mark(), memory->Say(size.status().message()));
    }
    spec->memory_bytes = *size;
  }
  if (splits != nullptr) {
    std::vector<std::string> hex;
    RETURN_IF_ERROR(ReadList(errors, *splits, &hex));
    spec->range_splits.clear();
    for (const std::string& h : hex) {
      std::string key;
      if (!HexDecode(h, &key)) {
        return errors.At(
            splits->mark(),
            splits->Say("item " + std::to_string(spec->range_splits.size()) +
                        ": expected hex digits, got " + Quote(h)));
      }
      if (!spec->range_splits.empty() && key <= spec->range_splits.back()) {
        return errors.At(splits->mark(),
                         splits->Say("split points must be strictly "
                                     "increasing"));
      }
      spec->range_splits.push_back(std::move(key));
    }
    if (static_cast<int>(spec->range_splits.size()) != spec->partitions - 1) {
      return errors.At(splits->mark(),
                       splits->Say("needs partitions - 1 = " +
                                   std::to_string(spec->partitions - 1) +
                                   " split points, got " +
                                   std::to_string(spec->range_splits.size())));
    }
  }
  return OkStatus();
}

Status ReadRetry(const Errors& errors, const Field& field, RetryPolicy* retry) {
  ASSIGN_OR_RETURN(FieldMap fields,
                   FieldMap::Read(errors, field, kRetryFields));
  int64_t attempts = retry->max_attempts;
  RETURN_IF_ERROR(
      ReadOptional(errors, fields, "max_attempts", ReadInt, &attempts));
  if (attempts < 1 || attempts > kMaxAttemptsLimit) {
    const Field& f = *fields.Find("max_attempts");
    return errors.At(f.mark(), f.Say("must be between 1 and " +
                                     std::to_string(kMaxAttemptsLimit) +
                                     ", got " + std::to_string(attempts)));
  }
  retry->max_attempts = static_cast<int>(attempts);
  return ReadOptional(errors, fields, "backoff", ReadDuration, &retry->backoff);
}

// Flattens a params subtree into dotted keys. Scalars keep their text; an
// empty (null) value becomes "".
class ParamsFlattener {
 public:
  explicit ParamsFlattener(const Errors& errors) : errors_(errors) {}

  Status Flatten(const YAML::Node& node, const YAML::Mark& mark,
                 const std::string& key, int depth) {
    if (++visited_ > kMaxParamsNodes) {
      return errors_.At(mark, "params: too many values (more than " +
                                  std::to_string(kMaxParamsNodes) + ")");
    }
    if (depth > kMaxParamsDepth) {
      return errors_.At(mark, "params: nested more than " +
                                  std::to_string(kMaxParamsDepth) +
                                  " levels deep (is an alias cyclic?)");
    }
    std::string prefix = key.empty() ? "" : key + ".";
    switch (node.Type()) {
      case YAML::NodeType::Map: {
        RETURN_IF_ERROR(CheckMapKeys(errors_, node,
                                     key.empty() ? "params" : "params." + key));
        for (const auto& entry : node) {
          const YAML::Node& value = entry.second;
          RETURN_IF_ERROR(
              Flatten(value, value.IsNull() ? entry.first.Mark() : value.Mark(),
                      prefix + entry.first.Scalar(), depth + 1));
        }
        return OkStatus();
      }
      case YAML::NodeType::Sequence: {
        size_t i = 0;
        for (const YAML::Node& item : node) {
          RETURN_IF_ERROR(Flatten(item, item.IsNull() ? mark : item.Mark(),
                                  prefix + std::to_string(i++), depth + 1));
        }
        return OkStatus();
      }
      case YAML::NodeType::Scalar:
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        break;
    }
    std::string text = node.IsScalar() ? node.Scalar() : "";
    if (!values_.emplace(key, std::move(text)).second) {
      // e.g. {"a.b": 1, a: {b: 2}}: two spellings of one flattened key.
      return errors_.At(
          mark, "params: key " + Quote(key) + " is given more than once");
    }
    return OkStatus();
  }

  std::map<std::string, std::string, std::less<>> Take() {
    return std::move(values_);
  }

 private:
  const Errors& errors_;
  int64_t visited_ = 0;
  std::map<std::string, std::string, std::less<>> values_;
};

Status ReadParams(const Errors& errors, const Field& field, Params* params) {
  if (!field.value.IsMap()) {
    return errors.At(field.mark(),
                     field.Say("expected a map, got " + Describe(field.value)));
  }
  ParamsFlattener flattener(errors);
  RETURN_IF_ERROR(flattener.Flatten(field.value, field.mark(), "", 0));
  *params = Params(flattener.Take());
  return OkStatus();
}

std::string ModelList(ModelSet set) {
  std::vector<std::string_view> names;
  for (Model m : kAllModelValues) {
    if (set & ModelBit(m)) names.push_back(ModelName(m));
  }
  return names.empty() ? "none" : Join(names);
}

StatusOr<Model> ReadModel(const Errors& errors, const Field& f) {
  ASSIGN_OR_RETURN(std::string name, ReadString(errors, f));
  std::optional<Model> m = ParseModel(name);
  if (!m) {
    return errors.At(
        f.mark(), f.Say("unknown model " + Quote(name) +
                        " (expected one of: " + ModelList(kAllModels) + ")"));
  }
  return *m;
}

// The processor must be registered and support the spec's model.
Status CheckProcessor(const Errors& errors, const Field& processor,
                      const Field* model, const JobSpec& spec) {
  ProcessorRegistry& registry = ProcessorRegistry::Global();
  if (!registry.Contains(spec.processor)) {
    const std::vector<std::string> known = registry.Names();
    const std::vector<std::string_view> names(known.begin(), known.end());
    return errors.At(processor.mark(), "unknown processor " +
                                           Quote(spec.processor) +
                                           " (known: " + Join(names) + ")");
  }
  // Only an instance can say which models it supports.
  std::unique_ptr<Processor> instance;
  try {
    instance = registry.Create(spec.processor);
  } catch (const std::exception& e) {
    return InternalError("creating processor '" + spec.processor +
                         "' to check its models threw: " + e.what());
  }
  if (instance == nullptr) {
    return InternalError("processor '" + spec.processor +
                         "' is registered but its factory returned null");
  }
  const ModelSet supported = instance->models();
  if ((supported & ModelBit(spec.model)) == 0) {
    const Field& at = model != nullptr ? *model : processor;
    return errors.At(at.mark(), "processor " + Quote(spec.processor) +
                                    " does not support model " +
                                    Quote(ModelName(spec.model)) +
                                    " (it supports: " + ModelList(supported) +
                                    ")");
  }
  return OkStatus();
}

// YAML must be UTF-8 (and cannot hold NUL). yaml-cpp passes invalid bytes
// through into scalars, but its emitter would replace them, so a spec with
// them could not round-trip through JobSpecToYaml.
Status CheckEncoding(const Errors& errors, std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len > 0 && i + len <= text.size();
    for (size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      ok = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp != 0 && cp >= kMinForLength[len] && cp <= 0x10FFFF &&
         (cp < 0xD800 || cp > 0xDFFF);
    if (!ok) {
      YAML::Mark mark;
      mark.pos = static_cast<int>(i);
      mark.line =
          static_cast<int>(std::count(text.begin(), text.begin() + i, '\n'));
      const size_t newline = text.rfind('\n', i);  // text[i] is not one
      const size_t line_start =
          newline == std::string_view::npos ? 0 : newline + 1;
      mark.column = static_cast<int>(i - line_start);
      return errors.At(mark, cp == 0 && len == 1
                                 ? "NUL byte in the job spec"
                                 : "the job spec is not valid UTF-8");
    }
    i += len;
  }
  return OkStatus();
}

// Counts the documents of a YAML stream; only document starts matter.
class DocumentCounter : public YAML::EventHandler {
 public:
  int count() const { return count_; }
  const YAML::Mark& second() const { return second_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++count_ == 2) second_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  int count_ = 0;
  YAML::Mark second_;
};

// Loads the one document of `text`. Not YAML::LoadAll: in yaml-cpp 0.7 it
// loops forever, allocating, on some malformed input such as ","
// (jbeder/yaml-cpp#1040). A separate event pass, stopped at the second
// document, finds trailing documents that YAML::Load would silently drop.
StatusOr<YAML::Node> LoadOneDocument(const Errors& errors,
                                     std::string_view text) {
  const std::string input(text);
  YAML::Node root;
  DocumentCounter counter;
  try {
    root = YAML::Load(input);
    std::istringstream in(input);
    YAML::Parser parser(in);
    while (counter.count() < 2 && parser.HandleNextDocument(counter)) {
    }
  } catch (const YAML::Exception& e) {
    return errors.At(e.mark, "YAML syntax error: " + e.msg);
  }
  if (root.IsNull()) {
    return errors.At(YAML::Mark(),  // 1:1
                     "empty document: expected a job spec map with "
                     "at least 'name' and 'processor'");
  }
  if (counter.count() > 1) {
    return errors.At(counter.second(),
                     "unexpected second YAML document: a job spec is a "
                     "single document");
  }
  return root;
}

// What a job, or one stage of a chain, runs: processor, model, params,
// retry, timeout, output and the shuffle fields. On entry *spec holds the
// defaults (the model among them).
Status ReadWork(const Errors& errors, const FieldMap& fields, JobSpec* spec) {
  RETURN_IF_ERROR(ReadRequired(errors, fields, "processor", ReadNonEmptyString,
                               &spec->processor));
  RETURN_IF_ERROR(
      ReadOptional(errors, fields, "model", ReadModel, &spec->model));
  if (const Field* f = fields.Find("params")) {
    RETURN_IF_ERROR(ReadParams(errors, *f, &spec->params));
  }
  if (const Field* f = fields.Find("retry")) {
    RETURN_IF_ERROR(ReadRetry(errors, *f, &spec->retry));
  }
  RETURN_IF_ERROR(
      ReadOptional(errors, fields, "timeout", ReadDuration, &spec->timeout));
  RETURN_IF_ERROR(
      ReadOptional(errors, fields, "output", ReadString, &spec->output));
  RETURN_IF_ERROR(ReadShuffle(errors, fields, spec));
  return CheckProcessor(errors, *fields.Find("processor"), fields.Find("model"),
                        *spec);
}

// Whether the model takes the input the job or stage has (`input`: the
// field that gives it, or null; a stage after the first always has one).
Status CheckModelInput(const Errors& errors, const FieldMap& fields,
                       const Field* input, bool later_stage,
                       const JobSpec& spec) {
  const bool no_input =
      spec.model == Model::kStandalone || spec.model == Model::kBroadcast;
  if (later_stage && no_input) {
    const Field* model = fields.Find("model");
    return errors.At(model->mark(),
                     model->Say("a stage after the first reads the files of "
                                "the one before: use model 'map', "
                                "'mapreduce' or 'shuffle'"));
  }
  if (input != nullptr && no_input) {
    return errors.At(input->key.Mark(),
                     input->Say("model " + Quote(ModelName(spec.model)) +
                                " takes no input (use model 'map' or "
                                "'mapreduce', or drop the input)"));
  }
  if (input == nullptr && !later_stage && spec.model == Model::kShuffle) {
    return errors.At(fields.Find("model")->mark(),
                     fields.Find("model")->Say(
                         "model 'shuffle' needs an input (its map tasks)"));
  }
  return OkStatus();
}

// One stage of a chain: an item of `stages` or of the stored `then`. On
// entry *s holds the defaults (name, output, retry, timeout, and for the
// first stage the chain's input).
Status ReadStage(const Errors& errors, const YAML::Node& node,
                 const YAML::Mark& where, int number, const Field* input,
                 JobSpec* s) {
  const bool first = number == 1;
  ASSIGN_OR_RETURN(
      FieldMap fields,
      FieldMap::Read(errors, node, where, "stage " + std::to_string(number),
                     kStageFields));
  RETURN_IF_ERROR(
      ReadOptional(errors, fields, "name", ReadNonEmptyString, &s->name));
  s->model = first && input == nullptr ? Model::kStandalone : Model::kMap;
  RETURN_IF_ERROR(ReadWork(errors, fields, s));
  if (const Field* split = fields.Find("split")) {
    if (first) {
      return errors.At(split->key.Mark(),
                       split->Say("the first stage reads the chain's input: "
                                  "give its split as 'input.split'"));
    }
    RETURN_IF_ERROR(ReadSplit(errors, *split, s));
  }
  return CheckModelInput(errors, fields, input, !first, *s);
}

StatusOr<std::vector<JobSpec>> ReadStageList(const Errors& errors,
                                             const Field& field,
                                             int first_number,
                                             const Field* input,
                                             const JobSpec& defaults) {
  if (!field.value.IsSequence() || field.value.size() == 0) {
    return errors.At(field.mark(),
                     field.Say("expected a non-empty sequence of stages, got " +
                               Describe(field.value)));
  }
  if (field.value.size() + first_number > kMaxStages + 1) {
    return errors.At(field.mark(),
                     field.Say("a chain has at most " +
                               std::to_string(kMaxStages) + " stages"));
  }
  std::vector<JobSpec> out;
  for (const YAML::Node& item : field.value) {
    const int number = first_number + static_cast<int>(out.size());
    JobSpec s;
    s.name = defaults.name;
    s.output = defaults.output;
    s.retry = defaults.retry;
    s.timeout = defaults.timeout;
    if (number == 1) {
      s.input_kind = defaults.input_kind;
      s.range = defaults.range;
      s.list = defaults.list;
      s.files = defaults.files;
      s.split_bytes = defaults.split_bytes;
    } else {
      s.input_kind = JobSpec::InputKind::kFiles;
    }
    RETURN_IF_ERROR(ReadStage(errors, item,
                              item.IsNull() ? field.mark() : item.Mark(),
                              number, input, &s));
    out.push_back(std::move(s));
  }
  return out;
}

// `stages:` — the chain as a user writes it, into the spec of its first
// stage with the rest under `then`.
StatusOr<JobSpec> ReadChain(const Errors& errors, const FieldMap& top,
                            const Field& stages, JobSpec defaults) {
  for (std::string_view name : kPerStageFields) {
    if (const Field* f = top.Find(name)) {
      return errors.At(f->key.Mark(),
                       f->Say("with 'stages', give it in each stage"));
    }
  }
  for (std::string_view name : {"then", "chain"}) {
    if (const Field* f = top.Find(name)) {
      return errors.At(f->key.Mark(),
                       f->Say("is written by taskgrid; use 'stages'"));
    }
  }
  if (defaults.output.empty()) {
    return errors.At(stages.key.Mark(),
                     "a chain of stages needs an 'output' (the last stage "
                     "writes there, the others under OUTPUT/_stages/K)");
  }
  const std::string base = defaults.name;
  const std::string output = defaults.output;
  ASSIGN_OR_RETURN(
      std::vector<JobSpec> chain,
      ReadStageList(errors, stages, 1, top.Find("input"), defaults));
  const int n = static_cast<int>(chain.size());
  const bool named_stages = n > 1;
  for (int k = 0; k < n; ++k) {
    JobSpec& s = chain[static_cast<size_t>(k)];
    s.stage = k + 1;
    s.stages = n;
    if (s.name == base && named_stages) {
      s.name =
          base + " [" + std::to_string(k + 1) + "/" + std::to_string(n) + "]";
    }
    if (s.output == output && k + 1 < n) {
      s.output = output + "/_stages/" + std::to_string(k + 1);
    }
  }
  JobSpec first = std::move(chain[0]);
  first.key = defaults.key;
  first.then.assign(std::make_move_iterator(chain.begin() + 1),
                    std::make_move_iterator(chain.end()));
  return first;
}

// `chain: {stage, of, after}` of a stored stage.
Status ReadChainPlace(const Errors& errors, const Field& field, JobSpec* spec) {
  ASSIGN_OR_RETURN(FieldMap fields,
                   FieldMap::Read(errors, field, kChainFields));
  int64_t stage = 0;
  int64_t of = 0;
  RETURN_IF_ERROR(ReadRequired(errors, fields, "stage", ReadInt, &stage));
  RETURN_IF_ERROR(ReadRequired(errors, fields, "of", ReadInt, &of));
  RETURN_IF_ERROR(
      ReadOptional(errors, fields, "after", ReadInt, &spec->after_job));
  const int64_t rest = static_cast<int64_t>(spec->then.size());
  if (stage < 1 || of > kMaxStages || of != stage + rest ||
      spec->after_job < 0) {
    return errors.At(
        field.mark(),
        field.Say("expected 1 <= stage, of = stage + " + std::to_string(rest) +
                  " (the stages under 'then') <= " +
                  std::to_string(kMaxStages) + " and after >= 0"));
  }
  spec->stage = static_cast<int>(stage);
  spec->stages = static_cast<int>(of);
  for (size_t i = 0; i < spec->then.size(); ++i) {
    spec->then[i].stage = spec->stage + 1 + static_cast<int>(i);
    spec->then[i].stages = spec->stages;
  }
  return OkStatus();
}

StatusOr<JobSpec> Parse(const Errors& errors, std::string_view yaml) {
  RETURN_IF_ERROR(CheckEncoding(errors, yaml));
  ASSIGN_OR_RETURN(const YAML::Node root, LoadOneDocument(errors, yaml));
  ASSIGN_OR_RETURN(FieldMap top, FieldMap::Read(errors, root, root.Mark(),
                                                FieldMap::kTop, kTopFields));

  JobSpec spec;
  RETURN_IF_ERROR(
      ReadRequired(errors, top, "name", ReadNonEmptyString, &spec.name));
  RETURN_IF_ERROR(ReadOptional(errors, top, "key", ReadString, &spec.key));
  const Field* input = top.Find("input");
  if (input != nullptr) {
    RETURN_IF_ERROR(
        ReadInput(errors, *input, top.Find("chain") != nullptr, &spec));
  }
  if (const Field* stages = top.Find("stages")) {
    if (const Field* f = top.Find("retry")) {
      RETURN_IF_ERROR(ReadRetry(errors, *f, &spec.retry));
    }
    RETURN_IF_ERROR(
        ReadOptional(errors, top, "timeout", ReadDuration, &spec.timeout));
    RETURN_IF_ERROR(
        ReadOptional(errors, top, "output", ReadString, &spec.output));
    return ReadChain(errors, top, *stages, std::move(spec));
  }
  spec.model = input == nullptr ? Model::kStandalone : Model::kMap;
  RETURN_IF_ERROR(ReadWork(errors, top, &spec));
  RETURN_IF_ERROR(CheckModelInput(errors, top, input, false, spec));
  const Field* then = top.Find("then");
  const Field* chain = top.Find("chain");
  if (then != nullptr && chain == nullptr) {
    return errors.At(then->key.Mark(),
                     then->Say("needs 'chain' (both are written by taskgrid; "
                               "use 'stages')"));
  }
  if (then != nullptr) {
    JobSpec defaults;
    defaults.name = spec.name;
    // The stages' numbers are checked against `chain` below.
    ASSIGN_OR_RETURN(spec.then,
                     ReadStageList(errors, *then, 2, nullptr, defaults));
  }
  if (chain != nullptr) RETURN_IF_ERROR(ReadChainPlace(errors, *chain, &spec));
  return spec;
}

void EmitString(YAML::Emitter& out, std::string_view key,
                const std::string& value) {
  out << YAML::Key << std::string(key) << YAML::Value << YAML::DoubleQuoted
      << value;
}

std::string Ms(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + "ms";
}

void EmitSplit(YAML::Emitter& out, int64_t split_bytes) {
  out << YAML::Key << "split" << YAML::Value
      << "bytes:" + std::to_string(split_bytes);
}

// What ReadWork reads: processor, model, params, retry, timeout, output and
// the shuffle fields.
void EmitWork(YAML::Emitter& out, const JobSpec& spec) {
  EmitString(out, "processor", spec.processor);
  out << YAML::Key << "model" << YAML::Value
      << std::string(ModelName(spec.model));
  if (!spec.params.values().empty()) {
    out << YAML::Key << "params" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : spec.params.values()) {
      out << YAML::Key << YAML::DoubleQuoted << k;
      out << YAML::Value << YAML::DoubleQuoted << v;
    }
    out << YAML::EndMap;
  }
  out << YAML::Key << "retry" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "max_attempts" << YAML::Value << spec.retry.max_attempts;
  out << YAML::Key << "backoff" << YAML::Value << Ms(spec.retry.backoff);
  out << YAML::EndMap;
  if (spec.timeout.count() != 0) {
    out << YAML::Key << "timeout" << YAML::Value << Ms(spec.timeout);
  }
  if (!spec.output.empty()) EmitString(out, "output", spec.output);
  if (spec.model == Model::kShuffle) {
    out << YAML::Key << "partitions" << YAML::Value << spec.partitions;
    out << YAML::Key << "memory" << YAML::Value
        << std::to_string(spec.memory_bytes);
    if (!spec.range_splits.empty()) {
      out << YAML::Key << "range_splits" << YAML::Value << YAML::Flow
          << YAML::BeginSeq;
      for (const std::string& k : spec.range_splits) out << HexEncode(k);
      out << YAML::EndSeq;
    }
  }
}

}  // namespace

std::string_view ModelName(Model m) {
  switch (m) {
    case Model::kStandalone:
      return "standalone";
    case Model::kBroadcast:
      return "broadcast";
    case Model::kMap:
      return "map";
    case Model::kMapReduce:
      return "mapreduce";
    case Model::kShuffle:
      return "shuffle";
  }
  return "unknown";
}

std::optional<Model> ParseModel(std::string_view name) {
  for (Model m : kAllModelValues) {
    if (ModelName(m) == name) return m;
  }
  return std::nullopt;
}

std::string IdRange::ToPayload() const {
  return std::to_string(start) + "," + std::to_string(end);
}

StatusOr<IdRange> IdRange::Parse(std::string_view payload) {
  auto bad = [&] {
    return InvalidArgumentError("invalid id range payload " + Quote(payload) +
                                ": expected 'START,END' with integers START "
                                "<= END");
  };
  size_t comma = payload.find(',');
  if (comma == std::string_view::npos) return bad();
  auto parse = [](std::string_view s, int64_t* v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
  };
  IdRange r;
  if (!parse(payload.substr(0, comma), &r.start) ||
      !parse(payload.substr(comma + 1), &r.end) || r.start > r.end) {
    return bad();
  }
  return r;
}

int64_t JobSpec::InputTaskCount() const {
  switch (input_kind) {
    case InputKind::kNone:
    case InputKind::kFiles:  // expanded by SubmitJob
      return 0;
    case InputKind::kList:
      return static_cast<int64_t>(list.size());
    case InputKind::kRange:
      break;
  }
  // Saturates; ParseJobSpec rejects ranges beyond the cap.
  return static_cast<int64_t>(std::min(RangePages(range), kMaxPages));
}

std::string JobSpec::InputPayload(int64_t i) const {
  if (i < 0 || i >= InputTaskCount()) return "";  // precondition violated
  if (input_kind == InputKind::kList) return list[static_cast<size_t>(i)];
  // Offsets are computed in uint64 so pages near INT64_MAX do not overflow:
  // i * step < span <= UINT64_MAX, and the page end is at most range.end.
  const uint64_t span =
      static_cast<uint64_t>(range.end) - static_cast<uint64_t>(range.start);
  const uint64_t offset =
      static_cast<uint64_t>(i) * static_cast<uint64_t>(range.step);
  const uint64_t len =
      std::min(static_cast<uint64_t>(range.step), span - offset);
  IdRange page;
  page.start =
      static_cast<int64_t>(static_cast<uint64_t>(range.start) + offset);
  page.end = static_cast<int64_t>(static_cast<uint64_t>(page.start) + len);
  return page.ToPayload();
}

StatusOr<JobSpec> ParseJobSpec(std::string_view yaml,
                               std::string_view source_name) {
  Errors errors(source_name);
  try {
    return Parse(errors, yaml);
  } catch (const YAML::Exception& e) {
    // Node accessors throw on misuse; the walker should not misuse them, but
    // a user's document must never take the process down.
    return errors.At(e.mark, "YAML error: " + e.msg);
  }
}

// Strings are always double-quoted, so their text (including "~", "yes",
// "1.0", leading spaces, newlines) reads back unchanged. Params are written
// as a flat map of their dotted keys: flattening a flat map of scalars is the
// identity, so they read back to the same Params. Durations are in ms. Only
// a spec that ParseJobSpec accepts reads back; this does not validate.
std::string JobSpecToYaml(const JobSpec& spec) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  EmitString(out, "name", spec.name);
  if (!spec.key.empty()) EmitString(out, "key", spec.key);
  if (spec.input_kind == JobSpec::InputKind::kRange) {
    out << YAML::Key << "input" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "range" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "start" << YAML::Value << spec.range.start;
    out << YAML::Key << "end" << YAML::Value << spec.range.end;
    out << YAML::Key << "step" << YAML::Value << spec.range.step;
    out << YAML::EndMap << YAML::EndMap;
  } else if (spec.input_kind == JobSpec::InputKind::kList) {
    out << YAML::Key << "input" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "list" << YAML::Value << YAML::BeginSeq;
    for (const std::string& item : spec.list) out << YAML::DoubleQuoted << item;
    out << YAML::EndSeq << YAML::EndMap;
  } else if (spec.input_kind == JobSpec::InputKind::kFiles) {
    out << YAML::Key << "input" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "files" << YAML::Value << YAML::BeginSeq;
    for (const std::string& f : spec.files) out << YAML::DoubleQuoted << f;
    out << YAML::EndSeq;
    if (spec.split_bytes > 0) EmitSplit(out, spec.split_bytes);
    out << YAML::EndMap;
  }
  EmitWork(out, spec);
  if (spec.stage > 0) {
    out << YAML::Key << "chain" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "stage" << YAML::Value << spec.stage;
    out << YAML::Key << "of" << YAML::Value << spec.stages;
    out << YAML::Key << "after" << YAML::Value << spec.after_job;
    out << YAML::EndMap;
  }
  if (!spec.then.empty()) {
    out << YAML::Key << "then" << YAML::Value << YAML::BeginSeq;
    for (const JobSpec& next : spec.then) {
      out << YAML::BeginMap;
      EmitString(out, "name", next.name);
      if (next.split_bytes > 0) EmitSplit(out, next.split_bytes);
      EmitWork(out, next);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

JobSpec NextStage(const JobSpec& done, int64_t done_job,
                  std::vector<std::string> files) {
  JobSpec next = done.then.front();
  next.then.assign(done.then.begin() + 1, done.then.end());
  next.stage = done.stage + 1;
  next.stages = done.stages;
  next.after_job = done_job;
  next.key = NextStageKey(done_job);
  next.input_kind = JobSpec::InputKind::kFiles;
  next.files = std::move(files);
  return next;
}

std::string NextStageKey(int64_t job_id) {
  return "taskgrid:after:" + std::to_string(job_id);
}

}  // namespace taskgrid

namespace taskgrid {

StatusOr<int64_t> ParseByteSize(std::string_view text) {
  auto bad = [&] {
    return InvalidArgumentError(
        "invalid byte size '" + std::string(text) +
        "' (expected e.g. 1048576, 64KiB, 64MiB, 1GiB, 64MB)");
  };
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) return bad();
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (ec != std::errc() || p != text.data() + digits) return bad();
  std::string_view unit = text.substr(digits);
  struct Unit {
    std::string_view name;
    uint64_t factor;
  };
  static constexpr Unit kUnits[] = {{"", 1},
                                    {"B", 1},
                                    {"KiB", 1 << 10},
                                    {"MiB", 1 << 20},
                                    {"GiB", 1 << 30},
                                    {"TiB", uint64_t{1} << 40},
                                    {"KB", 1000},
                                    {"MB", 1000 * 1000},
                                    {"GB", 1000 * 1000 * 1000},
                                    {"TB", uint64_t{1000} * 1000 * 1000 * 1000},
                                    {"K", 1 << 10},
                                    {"M", 1 << 20},
                                    {"G", 1 << 30}};
  for (const Unit& u : kUnits) {
    if (u.name != unit) continue;
    if (n == 0) return bad();
    if (n > static_cast<uint64_t>(INT64_MAX) / u.factor) return bad();
    return static_cast<int64_t>(n * u.factor);
  }
  return bad();
}

}  // namespace taskgrid
