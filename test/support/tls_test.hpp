// TlsTest: a RingoTest with the test certificates (tls_certs.hpp), skipped with the reason when
// they cannot be made, and the configs a test's server and client use most.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include <ringo/net/tls.hpp>

#include "ringo_test.hpp"
#include "tls_certs.hpp"

namespace ringo::test {

class TlsTest : public RingoTest {
 protected:
  void SetUp() override {
    std::string why;
    certs_ = tls_test_certs(&why);  // (made before the fd count starts)
    if (!certs_) GTEST_SKIP() << why;
    RingoTest::SetUp();
  }
  const test_certs& certs() const { return *certs_; }
  // The leaf (localhost, 127.0.0.1, ::1), and the CA that signed it.
  net::tls_config server_tls() const {
    return {.certificates = {{net::pem::file(certs_->leaf), net::pem::file(certs_->leaf_key)}}};
  }
  net::tls_config client_tls() const { return {.root_cas = {net::pem::file(certs_->ca)}}; }

 private:
  const test_certs* certs_ = nullptr;
};

}  // namespace ringo::test
