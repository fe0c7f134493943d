// Params: the free-form `params:` map of a job spec, as a processor sees it.
//
// Nested maps are flattened with dots and sequences with indices:
//   params: {top: 10, db: {path: x.db}, cols: [a, b]}
// gives keys "top", "db.path", "cols.0", "cols.1". Values keep their YAML
// scalar text; the typed getters convert and report the key on a bad value.
//
// Thread-safety: immutable after construction; safe to share across threads.
#ifndef TASKGRID_PARAMS_H_
#define TASKGRID_PARAMS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "taskgrid/status.h"

namespace taskgrid {

class Params {
 public:
  Params() = default;
  explicit Params(std::map<std::string, std::string, std::less<>> values)
      : values_(std::move(values)) {}

  bool Has(std::string_view key) const;
  const std::map<std::string, std::string, std::less<>>& values() const {
    return values_;
  }

  // Returns NotFound if the key is absent, InvalidArgument (naming the key
  // and the value) if it does not convert.
  StatusOr<std::string> String(std::string_view key) const;
  StatusOr<int64_t> Int(std::string_view key) const;
  StatusOr<double> Double(std::string_view key) const;
  StatusOr<bool> Bool(std::string_view key) const;

  // Return `def` when the key is absent. A present value that does not
  // convert throws std::invalid_argument naming the key: inside a processor
  // that fails the attempt with that message.
  std::string StringOr(std::string_view key, std::string_view def) const;
  int64_t IntOr(std::string_view key, int64_t def) const;
  double DoubleOr(std::string_view key, double def) const;
  bool BoolOr(std::string_view key, bool def) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace taskgrid

#endif  // TASKGRID_PARAMS_H_
