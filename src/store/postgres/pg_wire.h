// The wire format of PostgresStateStore (internal to src/store/postgres/):
// the mapping of SQLSTATEs onto our Status codes (PgStatus), a query result
// (Result), and statement parameters in binary format (Params,
// ArrayBuilder). Everything goes over the wire in binary format: integers
// as big-endian words, text and bytea as their raw bytes, so nothing is
// ever escaped.
//
// Thread-safety: Result, ArrayBuilder and Params are values, used by one
// thread at a time; the functions are pure.
#ifndef TASKGRID_STORE_POSTGRES_PG_WIRE_H_
#define TASKGRID_STORE_POSTGRES_PG_WIRE_H_

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "taskgrid/status.h"

namespace taskgrid {
namespace pg_internal {

// Our code for a PostgreSQL error, with `msg` as the message. `sqlstate` is
// "" for an error libpq raised itself (the connection is gone).
//   ""; 08xxx connection; 57Pxx shutdown; 40001 serialization failure;
//   40P01 deadlock; 53300 too many connections; 25006 read-only
//   transaction (a standby, during failover); 55P03 lock not available:
//     kUnavailable (retry the call).
//   23505 unique violation: kAlreadyExists.
//   22xxx data exception, 54xxx program limit: kInvalidArgument.
//   53xxx insufficient resources: kResourceExhausted.
//   57014 statement timeout or cancel: kDeadlineExceeded.
//   28xxx authorization, 42501 privilege: kPermissionDenied.
//   XX001, XX002 data or index corrupted: kDataLoss.
//   anything else: kInternal.
Status PgStatus(std::string_view sqlstate, const std::string& msg);

// `s` if it is valid UTF-8 without NUL bytes, else a copy with every byte
// that is not part of a valid sequence, and every NUL, replaced by U+FFFD.
// For TEXT columns that hold free text from elsewhere (task errors): the
// server refuses invalid UTF-8, and refusing the whole batch for it would
// wedge the master.
std::string ValidUtf8(std::string_view s);

// libpq's message `s` (NULL is "") on one line: line breaks and the
// indentation after them become one space; trailing ones go.
std::string OneLine(const char* s);

// "user@host:port/dbname" of a connection string, for messages (never its
// password); InvalidArgument if libpq cannot parse it.
StatusOr<std::string> DescribeConninfo(const std::string& conninfo);

// OIDs of the built-in types we send (stable across every server version).
inline constexpr Oid kInt4Oid = 23;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kTextOid = 25;
inline constexpr Oid kByteaOid = 17;
inline constexpr Oid kInt4ArrayOid = 1007;
inline constexpr Oid kInt8ArrayOid = 1016;
inline constexpr Oid kTextArrayOid = 1009;
inline constexpr Oid kByteaArrayOid = 1001;

// The result of one statement, in binary format.
class Result {
 public:
  Result() = default;
  explicit Result(PGresult* r) : r_(r) {}

  PGresult* raw() const { return r_.get(); }
  int rows() const { return PQntuples(r_.get()); }
  bool IsNull(int row, int col) const {
    return PQgetisnull(r_.get(), row, col) != 0;
  }
  // An integer column (smallint, integer or bigint); 0 for NULL.
  int64_t Int(int row, int col) const;
  // The bytes of a text or bytea column; "" for NULL.
  std::string Str(int row, int col) const {
    return std::string(PQgetvalue(r_.get(), row, col),
                       PQgetlength(r_.get(), row, col));
  }
  // Rows an INSERT, UPDATE or DELETE touched.
  int64_t Affected() const;

 private:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> r_;
};

// A one-dimensional array without NULLs, in binary format, for a parameter
// such as `$2::int8[]` (one statement carries a whole chunk of rows).
class ArrayBuilder {
 public:
  explicit ArrayBuilder(Oid element_type);
  void Int4(int32_t v);
  void Int8(int64_t v);
  void Bytes(std::string_view v);
  size_t size() const { return n_; }
  // The encoded array; the builder is empty afterwards.
  std::string Finish();

 private:
  Oid element_type_;
  size_t n_ = 0;
  std::string buf_;  // the elements, each a length word and its bytes
};

// The parameters of one statement ($1, $2, ... in order), in binary format
// with their types. Text and bytea values are borrowed, not copied: they
// must outlive the statement.
class Params {
 public:
  Params& Int4(int32_t v);
  Params& Int8(int64_t v);
  Params& Text(std::string_view v) { return Borrow(kTextOid, v); }
  Params& Bytea(std::string_view v) { return Borrow(kByteaOid, v); }
  // A NULL of the given type.
  Params& Null(Oid type);
  // An array from ArrayBuilder::Finish (kept by the Params).
  Params& Array(Oid array_type, std::string encoded);

  int size() const { return static_cast<int>(types_.size()); }
  const Oid* types() const { return types_.data(); }
  // Pointers into this object and the borrowed data, valid until the next
  // call that adds a parameter.
  void Pointers(std::vector<const char*>* values, std::vector<int>* lengths,
                std::vector<int>* formats) const;

 private:
  Params& Borrow(Oid type, std::string_view v);
  Params& Own(Oid type, std::string bytes);

  struct Value {
    bool null = false;
    bool owned = false;
    size_t owned_index = 0;  // into owned_, if owned
    std::string_view view;   // if borrowed
  };
  std::vector<Oid> types_;
  std::vector<Value> values_;
  std::vector<std::string> owned_;
};

// Appends `v` to `out` as a big-endian word (the wire's integers).
void AppendBE16(std::string* out, uint16_t v);
void AppendBE32(std::string* out, uint32_t v);
void AppendBE64(std::string* out, uint64_t v);

}  // namespace pg_internal
}  // namespace taskgrid

#endif  // TASKGRID_STORE_POSTGRES_PG_WIRE_H_
