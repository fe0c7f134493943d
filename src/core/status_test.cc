#include "taskgrid/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/status_macros.h"

namespace taskgrid {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(s, OkStatus());
}

TEST(StatusTest, OkCodeDropsMessage) {
  Status s(StatusCode::kOk, "ignored");
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s, OkStatus());
}

struct CodeCase {
  Status (*make)(std::string_view);
  StatusCode code;
  const char* name;
};

TEST(StatusTest, ConstructorsCodesAndNames) {
  const std::vector<CodeCase> cases = {
      {CancelledError, StatusCode::kCancelled, "CANCELLED"},
      {UnknownError, StatusCode::kUnknown, "UNKNOWN"},
      {InvalidArgumentError, StatusCode::kInvalidArgument, "INVALID_ARGUMENT"},
      {DeadlineExceededError, StatusCode::kDeadlineExceeded,
       "DEADLINE_EXCEEDED"},
      {NotFoundError, StatusCode::kNotFound, "NOT_FOUND"},
      {AlreadyExistsError, StatusCode::kAlreadyExists, "ALREADY_EXISTS"},
      {PermissionDeniedError, StatusCode::kPermissionDenied,
       "PERMISSION_DENIED"},
      {ResourceExhaustedError, StatusCode::kResourceExhausted,
       "RESOURCE_EXHAUSTED"},
      {FailedPreconditionError, StatusCode::kFailedPrecondition,
       "FAILED_PRECONDITION"},
      {AbortedError, StatusCode::kAborted, "ABORTED"},
      {OutOfRangeError, StatusCode::kOutOfRange, "OUT_OF_RANGE"},
      {UnimplementedError, StatusCode::kUnimplemented, "UNIMPLEMENTED"},
      {InternalError, StatusCode::kInternal, "INTERNAL"},
      {UnavailableError, StatusCode::kUnavailable, "UNAVAILABLE"},
      {DataLossError, StatusCode::kDataLoss, "DATA_LOSS"},
      {UnauthenticatedError, StatusCode::kUnauthenticated, "UNAUTHENTICATED"},
  };
  for (const CodeCase& c : cases) {
    Status s = c.make("msg");
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_EQ(s.code(), c.code) << c.name;
    EXPECT_EQ(s.message(), "msg");
    EXPECT_EQ(StatusCodeName(c.code), c.name);
    EXPECT_EQ(s.ToString(), std::string(c.name) + ": msg");
  }
  EXPECT_EQ(StatusCodeName(StatusCode::kOk), "OK");
  EXPECT_EQ(StatusCodeName(static_cast<StatusCode>(99)), "UNKNOWN_CODE");
}

TEST(StatusTest, WithPrefix) {
  Status s = NotFoundError("no such job").WithPrefix("resume 7");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "resume 7: no such job");
  EXPECT_TRUE(OkStatus().WithPrefix("ignored").ok());
  EXPECT_EQ(OkStatus().WithPrefix("ignored").message(), "");
}

TEST(StatusTest, EqualityAndStreaming) {
  EXPECT_EQ(AbortedError("x"), AbortedError("x"));
  EXPECT_FALSE(AbortedError("x") == AbortedError("y"));
  EXPECT_FALSE(AbortedError("x") == UnavailableError("x"));
  std::ostringstream os;
  os << DataLossError("torn page");
  EXPECT_EQ(os.str(), "DATA_LOSS: torn page");
}

TEST(StatusOrTest, HoldsValue) {
  StatusOr<std::string> v = std::string("hello");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v.status().ok());
  EXPECT_EQ(*v, "hello");
  EXPECT_EQ(v->size(), 5u);
  v.value() += "!";
  EXPECT_EQ(v.value(), "hello!");
}

TEST(StatusOrTest, HoldsError) {
  StatusOr<int> v = UnavailableError("down");
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.status(), UnavailableError("down"));
}

TEST(StatusOrTest, MoveOnlyValue) {
  StatusOr<std::unique_ptr<int>> v = std::make_unique<int>(7);
  ASSERT_TRUE(v.ok());
  std::unique_ptr<int> p = std::move(v).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

#ifdef NDEBUG
TEST(StatusOrTest, OkStatusBecomesInternalInReleaseBuilds) {
  StatusOr<int> v = OkStatus();
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInternal);
}
#endif

Status Check(int n) {
  if (n < 0) return InvalidArgumentError("negative");
  return OkStatus();
}

StatusOr<int> Half(int n) {
  RETURN_IF_ERROR(Check(n));
  if (n % 2 != 0) return FailedPreconditionError("odd");
  return n / 2;
}

StatusOr<int> Quarter(int n) {
  ASSIGN_OR_RETURN(int half, Half(n));
  ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(StatusMacrosTest, PropagateFirstError) {
  EXPECT_EQ(Quarter(8).value(), 2);
  EXPECT_EQ(Quarter(-4).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Quarter(6).status(), FailedPreconditionError("odd"));
  EXPECT_EQ(Quarter(5).status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace taskgrid
