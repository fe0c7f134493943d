#include "taskgrid/params.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace taskgrid {
namespace {

using Values = std::map<std::string, std::string, std::less<>>;

Params Make(std::string key, std::string value) {
  return Params(Values{{std::move(key), std::move(value)}});
}

// Message of the std::invalid_argument thrown by `fn`, or "" if none.
template <typename Fn>
std::string ThrownMessage(Fn fn) {
  try {
    fn();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(ParamsTest, HasAndValues) {
  Params p(Values{{"a", "1"}, {"db.path", "x.db"}});
  EXPECT_TRUE(p.Has("a"));
  EXPECT_TRUE(p.Has("db.path"));
  EXPECT_FALSE(p.Has("db"));
  EXPECT_FALSE(p.Has(""));
  EXPECT_EQ(p.values().size(), 2u);
  EXPECT_FALSE(Params().Has("a"));
}

TEST(ParamsTest, MissingKeyIsNotFoundForEveryGetter) {
  Params p;
  EXPECT_EQ(p.String("k").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(p.Int("k").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(p.Double("k").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(p.Bool("k").status().code(), StatusCode::kNotFound);
  EXPECT_NE(p.String("k").status().message().find("'k'"), std::string::npos);
}

TEST(ParamsTest, String) {
  EXPECT_EQ(Make("k", "").String("k").value(), "");
  EXPECT_EQ(Make("k", " x ").String("k").value(), " x ");
}

struct IntCase {
  std::string text;
  bool ok;
  int64_t value;
};

class ParamsIntTest : public ::testing::TestWithParam<IntCase> {};

TEST_P(ParamsIntTest, Converts) {
  const IntCase& c = GetParam();
  StatusOr<int64_t> v = Make("n", c.text).Int("n");
  if (c.ok) {
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, c.value);
  } else {
    ASSERT_FALSE(v.ok()) << c.text;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(v.status().message().find("param 'n'"), std::string::npos);
    EXPECT_NE(v.status().message().find("'" + c.text + "'"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParamsIntTest,
    ::testing::Values(IntCase{"0", true, 0}, IntCase{"42", true, 42},
                      IntCase{"-7", true, -7},
                      IntCase{"9223372036854775807", true,
                              std::numeric_limits<int64_t>::max()},
                      IntCase{"-9223372036854775808", true,
                              std::numeric_limits<int64_t>::min()},
                      IntCase{"9223372036854775808", false, 0},
                      IntCase{"", false, 0}, IntCase{"1.0", false, 0},
                      IntCase{" 1", false, 0}, IntCase{"1 ", false, 0},
                      IntCase{"+1", false, 0}, IntCase{"0x10", false, 0},
                      IntCase{"ten", false, 0}));

struct DoubleCase {
  std::string text;
  bool ok;
  double value;
};

class ParamsDoubleTest : public ::testing::TestWithParam<DoubleCase> {};

TEST_P(ParamsDoubleTest, Converts) {
  const DoubleCase& c = GetParam();
  StatusOr<double> v = Make("x", c.text).Double("x");
  if (c.ok) {
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_DOUBLE_EQ(*v, c.value);
  } else {
    ASSERT_FALSE(v.ok()) << c.text;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(v.status().message().find("param 'x'"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParamsDoubleTest,
    ::testing::Values(DoubleCase{"1.5", true, 1.5}, DoubleCase{"-2", true, -2},
                      DoubleCase{"1e3", true, 1000},
                      DoubleCase{"0.001", true, 0.001},
                      DoubleCase{"", false, 0}, DoubleCase{"1.5x", false, 0},
                      DoubleCase{"inf", false, 0}, DoubleCase{"nan", false, 0},
                      DoubleCase{"1e999", false, 0},
                      DoubleCase{"abc", false, 0}));

struct BoolCase {
  std::string text;
  bool ok;
  bool value;
};

class ParamsBoolTest : public ::testing::TestWithParam<BoolCase> {};

TEST_P(ParamsBoolTest, Converts) {
  const BoolCase& c = GetParam();
  StatusOr<bool> v = Make("b", c.text).Bool("b");
  if (c.ok) {
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, c.value) << c.text;
  } else {
    ASSERT_FALSE(v.ok()) << c.text;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(v.status().message().find("param 'b'"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParamsBoolTest,
    ::testing::Values(BoolCase{"true", true, true},
                      BoolCase{"True", true, true}, BoolCase{"yes", true, true},
                      BoolCase{"1", true, true}, BoolCase{"false", true, false},
                      BoolCase{"False", true, false},
                      BoolCase{"no", true, false}, BoolCase{"0", true, false},
                      BoolCase{"", false, false},
                      BoolCase{"maybe", false, false},
                      BoolCase{"2", false, false}));

TEST(ParamsOrTest, AbsentKeyGivesDefault) {
  Params p;
  EXPECT_EQ(p.StringOr("k", "def"), "def");
  EXPECT_EQ(p.IntOr("k", -3), -3);
  EXPECT_DOUBLE_EQ(p.DoubleOr("k", 2.5), 2.5);
  EXPECT_EQ(p.BoolOr("k", true), true);
}

TEST(ParamsOrTest, PresentKeyGivesValue) {
  Params p(Values{{"s", "text"}, {"i", "12"}, {"d", "0.25"}, {"b", "no"}});
  EXPECT_EQ(p.StringOr("s", "def"), "text");
  EXPECT_EQ(p.IntOr("i", 0), 12);
  EXPECT_DOUBLE_EQ(p.DoubleOr("d", 0), 0.25);
  EXPECT_EQ(p.BoolOr("b", true), false);
  // An empty string is a present value, not absence.
  EXPECT_EQ(Make("s", "").StringOr("s", "def"), "");
}

TEST(ParamsOrTest, BadValueThrowsNamingTheKey) {
  Params p(Values{{"top", "ten"}});
  EXPECT_THROW(p.IntOr("top", 0), std::invalid_argument);
  EXPECT_THROW(p.DoubleOr("top", 0), std::invalid_argument);
  EXPECT_THROW(p.BoolOr("top", false), std::invalid_argument);
  EXPECT_NO_THROW(p.StringOr("top", ""));
  std::string msg = ThrownMessage([&] { (void)p.IntOr("top", 0); });
  EXPECT_NE(msg.find("param 'top'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'ten'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace taskgrid
