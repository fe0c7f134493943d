// Helpers for the tests of rpc/grpc: message round trips, free loopback ports,
// a test-only TLS certificate, waiting on a condition. Test code only.
#ifndef TASKGRID_RPC_GRPC_GRPC_TEST_UTIL_H_
#define TASKGRID_RPC_GRPC_GRPC_TEST_UTIL_H_

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "rpc/grpc/grpc_transport.h"

namespace taskgrid::testing_grpc {

// `in` serialized and parsed back: what the other side of the wire gets.
template <typename P>
P Reparse(const P& in) {
  std::string wire;
  EXPECT_TRUE(in.SerializeToString(&wire));
  P out;
  EXPECT_TRUE(out.ParseFromString(wire));
  return out;
}

// ToProto, the wire, FromProto: `in` as the receiver decodes it. P is the
// protobuf message type; ToProto/FromProto are found by argument lookup.
template <typename P, typename T>
auto RoundTrip(const T& in) {
  P p;
  ToProto(in, &p);
  return FromProto(Reparse(p));
}

// A loopback port nobody listens on (bound, then released).
inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A self-signed test-only certificate for localhost / 127.0.0.1, valid
// 2000-2999 (so no clock skew breaks the test), and its key.
inline constexpr char kTestCert[] = R"(-----BEGIN CERTIFICATE-----
MIIBWzCCAQGgAwIBAgIUbgmVp0WO0d+2PVlpCcS2EfvYRLQwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTAwMDEwMTAwMDAwMFoYDzI5OTkxMjMx
MDAwMDAwWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASsCak48X0p/tAS9bkp1AkJs9vVW8ziTBQk2qBirL1ttnOzuMsnt6Wo
dWpyK50p14rc/fTkOvAe6OGlihxTMHvZoy8wLTAaBgNVHREEEzARhwR/AAABggls
b2NhbGhvc3QwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA6nvP
/pvi5bTotV0h9pL2ddG0JHxnQXIx2KhpXV9C0DICICZQZgDiYHBtTPqAOLgwXKJl
w4kqMaKNLGJazGl2gUmL
-----END CERTIFICATE-----
)";
inline constexpr char kTestKey[] = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgrbIRFN6ylCAH/Mos
T691ZdhHUNcc1OwJpza5KCZscsmhRANCAASsCak48X0p/tAS9bkp1AkJs9vVW8zi
TBQk2qBirL1ttnOzuMsnt6WodWpyK50p14rc/fTkOvAe6OGlihxTMHvZ
-----END PRIVATE KEY-----
)";

// kTestCert and kTestKey written to a fresh temporary directory (removed
// again by the destructor); options() serves them and trusts the cert.
class TempTlsFiles {
 public:
  explicit TempTlsFiles(const std::string& prefix)
      : dir_(std::filesystem::temp_directory_path() /
             (prefix + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "cert.pem") << kTestCert;
    std::ofstream(dir_ / "key.pem") << kTestKey;
  }
  ~TempTlsFiles() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempTlsFiles(const TempTlsFiles&) = delete;
  TempTlsFiles& operator=(const TempTlsFiles&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  GrpcTlsOptions options() const {
    GrpcTlsOptions o;
    o.cert_path = (dir_ / "cert.pem").string();
    o.key_path = (dir_ / "key.pem").string();
    o.ca_path = o.cert_path;
    return o;
  }

 private:
  const std::filesystem::path dir_;
};

// Polls `cond` until it holds or `timeout_ms` passes; returns whether it
// held.
inline bool WaitFor(const std::function<bool()>& cond, int64_t timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace taskgrid::testing_grpc

#endif  // TASKGRID_RPC_GRPC_GRPC_TEST_UTIL_H_
