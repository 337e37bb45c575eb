// The runtime layer: io_context, task, operations, scope, and the synchronization primitives.
#pragma once

#include <ringo/runtime/async_mutex.hpp>
#include <ringo/runtime/buffer.hpp>
#include <ringo/runtime/event.hpp>
#include <ringo/runtime/file.hpp>
#include <ringo/runtime/io_context.hpp>
#include <ringo/runtime/lent_buffer.hpp>
#include <ringo/runtime/memory.hpp>
#include <ringo/runtime/multishot_acceptor.hpp>
#include <ringo/runtime/multishot_receiver.hpp>
#include <ringo/runtime/oneshot.hpp>
#include <ringo/runtime/operations.hpp>
#include <ringo/runtime/result.hpp>
#include <ringo/runtime/scope.hpp>
#include <ringo/runtime/semaphore.hpp>
#include <ringo/runtime/signal.hpp>
#include <ringo/runtime/socket.hpp>
#include <ringo/runtime/socket_address.hpp>
#include <ringo/runtime/task.hpp>
#include <ringo/runtime/time.hpp>
#include <ringo/runtime/unique_fd.hpp>
#include <ringo/runtime/when_all.hpp>
