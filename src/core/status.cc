#include "taskgrid/status.h"

namespace taskgrid {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kCancelled:
      return "CANCELLED";
    case StatusCode::kUnknown:
      return "UNKNOWN";
    case StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case StatusCode::kNotFound:
      return "NOT_FOUND";
    case StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case StatusCode::kAborted:
      return "ABORTED";
    case StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case StatusCode::kInternal:
      return "INTERNAL";
    case StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case StatusCode::kDataLoss:
      return "DATA_LOSS";
    case StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
  }
  return "UNKNOWN_CODE";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s(StatusCodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

Status Status::WithPrefix(std::string_view prefix) const {
  if (ok()) return *this;
  std::string m(prefix);
  m += ": ";
  m += message_;
  return Status(code_, m);
}

std::ostream& operator<<(std::ostream& os, const Status& s) {
  return os << s.ToString();
}

#define TG_DEFINE_ERROR(Name, Code) \
  Status Name(std::string_view msg) { return Status(StatusCode::Code, msg); }
TG_DEFINE_ERROR(CancelledError, kCancelled)
TG_DEFINE_ERROR(UnknownError, kUnknown)
TG_DEFINE_ERROR(InvalidArgumentError, kInvalidArgument)
TG_DEFINE_ERROR(DeadlineExceededError, kDeadlineExceeded)
TG_DEFINE_ERROR(NotFoundError, kNotFound)
TG_DEFINE_ERROR(AlreadyExistsError, kAlreadyExists)
TG_DEFINE_ERROR(PermissionDeniedError, kPermissionDenied)
TG_DEFINE_ERROR(ResourceExhaustedError, kResourceExhausted)
TG_DEFINE_ERROR(FailedPreconditionError, kFailedPrecondition)
TG_DEFINE_ERROR(AbortedError, kAborted)
TG_DEFINE_ERROR(OutOfRangeError, kOutOfRange)
TG_DEFINE_ERROR(UnimplementedError, kUnimplemented)
TG_DEFINE_ERROR(InternalError, kInternal)
TG_DEFINE_ERROR(UnavailableError, kUnavailable)
TG_DEFINE_ERROR(DataLossError, kDataLoss)
TG_DEFINE_ERROR(UnauthenticatedError, kUnauthenticated)
#undef TG_DEFINE_ERROR

}  // namespace taskgrid
