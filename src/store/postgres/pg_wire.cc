// The wire format of PostgresStateStore (see pg_wire.h): error mapping,
// strings, and the binary encoding of results and parameters.
//
// Thread-safety: as pg_wire.h; no state of its own.
#include "store/postgres/pg_wire.h"

#include <cstdlib>

#include "core/status_macros.h"

namespace taskgrid {
namespace pg_internal {
namespace {

// Length of the valid UTF-8 sequence (not NUL) at s[i], or 0 (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF; what the server
// accepts).
size_t Utf8SeqLen(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == 0) return 0;
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if (c1 < lo || c1 > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    const auto ck = static_cast<unsigned char>(s[i + k]);
    if (ck < 0x80 || ck > 0xbf) return 0;
  }
  return n;
}

}  // namespace

void AppendBE16(std::string* out, uint16_t v) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 2);
}

void AppendBE32(std::string* out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 4);
}

void AppendBE64(std::string* out, uint64_t v) {
  AppendBE32(out, static_cast<uint32_t>(v >> 32));
  AppendBE32(out, static_cast<uint32_t>(v));
}

// ---------------------------------------------------------------------------
// Errors and strings.

Status PgStatus(std::string_view sqlstate, const std::string& msg) {
  auto is = [&](std::string_view code) { return sqlstate == code; };
  auto cls = [&](std::string_view prefix) {
    return sqlstate.starts_with(prefix);
  };
  if (sqlstate.empty() || cls("08") || cls("57P") || is("40001") ||
      is("40P01") || is("53300") || is("25006") || is("55P03")) {
    return UnavailableError(msg);
  }
  if (is("23505")) return AlreadyExistsError(msg);
  if (cls("22") || cls("54")) return InvalidArgumentError(msg);
  if (cls("53")) return ResourceExhaustedError(msg);
  if (is("57014")) return DeadlineExceededError(msg);
  if (cls("28") || is("42501")) return PermissionDeniedError(msg);
  if (is("XX001") || is("XX002")) return DataLossError(msg);
  return InternalError(msg);
}

std::string ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = Utf8SeqLen(s, i);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return std::string(s);
  std::string out(s.substr(0, i));
  while (i < s.size()) {
    const size_t n = Utf8SeqLen(s, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string OneLine(const char* s) {
  std::string out;
  bool space = false;
  for (const char* p = s != nullptr ? s : ""; *p != '\0'; ++p) {
    if (*p == '\n' || *p == '\t' || (*p == ' ' && space)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = *p == ' ';
    if (!space) out += *p;
  }
  return out;
}

StatusOr<std::string> DescribeConninfo(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    std::string why = err != nullptr ? OneLine(err) : "out of memory";
    PQfreemem(err);
    return InvalidArgumentError("postgresql: bad connection string: " + why);
  }
  std::string user, host, port, db;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0') continue;
    std::string_view k(o->keyword);
    if (k == "user") user = o->val;
    if (k == "host" || (k == "hostaddr" && host.empty())) host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") db = o->val;
  }
  PQconninfoFree(opts);
  std::string name = user.empty() ? "" : user + "@";
  name += host.empty() ? "localhost" : host;
  if (!port.empty()) name += ":" + port;
  name += "/" + db;
  return name;
}

// ---------------------------------------------------------------------------
// Result, ArrayBuilder, Params.

int64_t Result::Int(int row, int col) const {
  const char* p = PQgetvalue(r_.get(), row, col);
  const int n = PQgetlength(r_.get(), row, col);
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  switch (n) {
    case 1:
      return static_cast<int64_t>(v);  // boolean
    case 2:
      return static_cast<int16_t>(v);
    case 4:
      return static_cast<int32_t>(v);
    case 8:
      return static_cast<int64_t>(v);
    default:
      return 0;
  }
}

int64_t Result::Affected() const {
  return std::strtoll(PQcmdTuples(r_.get()), nullptr, 10);
}

ArrayBuilder::ArrayBuilder(Oid element_type) : element_type_(element_type) {}

void ArrayBuilder::Int4(int32_t v) {
  AppendBE32(&buf_, 4);
  AppendBE32(&buf_, static_cast<uint32_t>(v));
  ++n_;
}

void ArrayBuilder::Int8(int64_t v) {
  AppendBE32(&buf_, 8);
  AppendBE64(&buf_, static_cast<uint64_t>(v));
  ++n_;
}

void ArrayBuilder::Bytes(std::string_view v) {
  AppendBE32(&buf_, static_cast<uint32_t>(v.size()));
  buf_.append(v);
  ++n_;
}

std::string ArrayBuilder::Finish() {
  // array_recv's format: ndim, has-nulls flag, element type, then per
  // dimension its size and lower bound; an empty array has no dimension.
  std::string out;
  out.reserve(20 + buf_.size());
  AppendBE32(&out, n_ == 0 ? 0 : 1);
  AppendBE32(&out, 0);
  AppendBE32(&out, element_type_);
  if (n_ > 0) {
    AppendBE32(&out, static_cast<uint32_t>(n_));
    AppendBE32(&out, 1);
    out += buf_;
  }
  buf_.clear();
  n_ = 0;
  return out;
}

Params& Params::Int4(int32_t v) {
  std::string b;
  AppendBE32(&b, static_cast<uint32_t>(v));
  return Own(kInt4Oid, std::move(b));
}

Params& Params::Int8(int64_t v) {
  std::string b;
  AppendBE64(&b, static_cast<uint64_t>(v));
  return Own(kInt8Oid, std::move(b));
}

Params& Params::Null(Oid type) {
  types_.push_back(type);
  values_.push_back(Value{.null = true});
  return *this;
}

Params& Params::Array(Oid array_type, std::string encoded) {
  return Own(array_type, std::move(encoded));
}

Params& Params::Borrow(Oid type, std::string_view v) {
  types_.push_back(type);
  values_.push_back(Value{.view = v});
  return *this;
}

Params& Params::Own(Oid type, std::string bytes) {
  types_.push_back(type);
  values_.push_back(Value{.owned = true, .owned_index = owned_.size()});
  owned_.push_back(std::move(bytes));
  return *this;
}

void Params::Pointers(std::vector<const char*>* values,
                      std::vector<int>* lengths,
                      std::vector<int>* formats) const {
  values->clear();
  lengths->clear();
  formats->assign(values_.size(), 1);  // all binary
  for (const Value& v : values_) {
    if (v.null) {
      values->push_back(nullptr);
      lengths->push_back(0);
    } else if (v.owned) {
      const std::string& b = owned_[v.owned_index];
      values->push_back(b.data());
      lengths->push_back(static_cast<int>(b.size()));
    } else {
      values->push_back(v.view.data() != nullptr ? v.view.data() : "");
      lengths->push_back(static_cast<int>(v.view.size()));
    }
  }
}

}  // namespace pg_internal
}  // namespace taskgrid
