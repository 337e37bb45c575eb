// The net layer: addresses, the resolver, conns, listeners and Go's Dialer.
#pragma once

#include <ringo/net/address.hpp>
#include <ringo/net/conn.hpp>
#include <ringo/net/dialer.hpp>
#include <ringo/net/error.hpp>
#include <ringo/net/listener.hpp>
#include <ringo/net/resolver.hpp>
#include <ringo/net/stream.hpp>
#include <ringo/runtime.hpp>
