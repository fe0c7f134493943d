// RETURN_IF_ERROR / ASSIGN_OR_RETURN for code inside taskgrid. Kept out of
// the public headers so they never clash with a user's own macros.
#ifndef TASKGRID_CORE_STATUS_MACROS_H_
#define TASKGRID_CORE_STATUS_MACROS_H_

#include "taskgrid/status.h"

#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::taskgrid::Status tg_status_ = (expr);  \
    if (!tg_status_.ok()) return tg_status_; \
  } while (0)

#define TG_CONCAT_INNER_(a, b) a##b
#define TG_CONCAT_(a, b) TG_CONCAT_INNER_(a, b)

#define ASSIGN_OR_RETURN(lhs, expr) \
  TG_ASSIGN_OR_RETURN_IMPL_(TG_CONCAT_(tg_statusor_, __LINE__), lhs, expr)
#define TG_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                              \
  if (!var.ok()) return var.status();             \
  lhs = std::move(var).value()

#endif  // TASKGRID_CORE_STATUS_MACROS_H_
