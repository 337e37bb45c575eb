// The net layer: addresses, the resolver, conns, listeners, Go's Dialer and TLS streams.
#pragma once

#include <ringo/net/address.hpp>
#include <ringo/net/conn.hpp>
#include <ringo/net/dialer.hpp>
#include <ringo/net/error.hpp>
#include <ringo/net/listener.hpp>
#include <ringo/net/resolver.hpp>
#include <ringo/net/stream.hpp>
#include <ringo/net/tls.hpp>
#include <ringo/runtime.hpp>
