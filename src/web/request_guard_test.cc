#include "web/request_guard.h"

#include <gtest/gtest.h>

namespace taskgrid {
namespace {

TEST(ParseListenAddressTest, Table) {
  struct Case {
    const char* in;
    const char* host;  // nullptr: InvalidArgument
    int port;
  };
  const Case cases[] = {
      {"127.0.0.1:7780", "127.0.0.1", 7780},
      {"0.0.0.0:80", "0.0.0.0", 80},
      {"localhost:0", "localhost", 0},
      {"[::1]:7780", "::1", 7780},
      {":7780", "127.0.0.1", 7780},
      {"7780", "127.0.0.1", 7780},
      {"myhost.example.com:8080", "myhost.example.com", 8080},
      {"", nullptr, 0},
      {"localhost", nullptr, 0},
      {"127.0.0.1:", nullptr, 0},
      {"127.0.0.1:99999", nullptr, 0},
      {"127.0.0.1:-1", nullptr, 0},
      {"::1:7780", nullptr, 0},
      {"[::1:7780", nullptr, 0},
      {"a b:7780", nullptr, 0},
  };
  for (const Case& c : cases) {
    auto a = ParseListenAddress(c.in);
    if (c.host == nullptr) {
      ASSERT_FALSE(a.ok()) << c.in;
      EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument) << c.in;
      continue;
    }
    ASSERT_TRUE(a.ok()) << c.in << ": " << a.status();
    EXPECT_EQ(a->host, c.host) << c.in;
    EXPECT_EQ(a->port, c.port) << c.in;
  }
}

TEST(FormatHostPortTest, BracketsIpv6) {
  EXPECT_EQ(FormatHostPort("127.0.0.1", 7780), "127.0.0.1:7780");
  EXPECT_EQ(FormatHostPort("::1", 7780), "[::1]:7780");
}

TEST(HostPolicyTest, LoopbackBindAcceptsLoopbackNamesWithItsPort) {
  HostPolicy p({"127.0.0.1", 7780}, "box", {});
  for (const char* ok :
       {"127.0.0.1:7780", "localhost:7780", "LOCALHOST:7780", "[::1]:7780"}) {
    EXPECT_TRUE(p.Allows(ok)) << ok;
  }
  for (const char* bad :
       {"evil.example:7780", "127.0.0.1:7781", "localhost", "box:7780", "",
        "127.0.0.1:7780.evil", "[::1]", "localhost.:7780", "::1:7780"}) {
    EXPECT_FALSE(p.Allows(bad)) << bad;
  }
}

TEST(HostPolicyTest, SpecificAddressAcceptsOnlyItselfAndExtras) {
  HostPolicy p({"10.1.2.3", 8080}, "box", {"dash.example", "proxy:443"});
  EXPECT_TRUE(p.Allows("10.1.2.3:8080"));
  EXPECT_TRUE(p.Allows("dash.example:8080"));
  EXPECT_TRUE(p.Allows("proxy:443"));
  EXPECT_FALSE(p.Allows("proxy:8080"));
  EXPECT_FALSE(p.Allows("localhost:8080"));
  EXPECT_FALSE(p.Allows("box:8080"));
}

TEST(HostPolicyTest, WildcardBindAcceptsMachineNameAndLoopback) {
  HostPolicy p({"0.0.0.0", 80}, "Box", {});
  EXPECT_TRUE(p.Allows("box"));  // no port: 80
  EXPECT_TRUE(p.Allows("box:80"));
  EXPECT_TRUE(p.Allows("localhost"));
  EXPECT_TRUE(p.Allows("0.0.0.0:80"));
  EXPECT_FALSE(p.Allows("evil.example"));
}

TEST(OriginTest, MustBeThisServer) {
  EXPECT_TRUE(OriginMatchesHost("http://127.0.0.1:7780", "127.0.0.1:7780"));
  EXPECT_TRUE(OriginMatchesHost("http://LocalHost:7780", "localhost:7780"));
  EXPECT_FALSE(OriginMatchesHost("https://127.0.0.1:7780", "127.0.0.1:7780"));
  EXPECT_FALSE(OriginMatchesHost("http://evil.example", "127.0.0.1:7780"));
  EXPECT_FALSE(OriginMatchesHost("null", "127.0.0.1:7780"));
  EXPECT_FALSE(OriginMatchesHost("", "127.0.0.1:7780"));
}

TEST(BearerTokenTest, Table) {
  EXPECT_TRUE(BearerTokenMatches("Bearer s3cret", "s3cret"));
  EXPECT_TRUE(BearerTokenMatches("bearer  s3cret ", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Bearer s3cret2", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Basic s3cret", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("s3cret", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Bearer ", ""));
}

}  // namespace
}  // namespace taskgrid
