// callback.hpp - move-only callables, for answers that arrive later and on another thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "common/error.hpp"

namespace mltf {

template <typename Signature>
class UniqueFunction;

/// A move-only `std::function`: it can hold callables that own move-only state (a reply to a
/// client, a promise). Small callables live inline, so wrapping a lambda that captures a few
/// pointers and strings does not allocate. Calling an empty one is a programmer error. Not
/// thread-safe; move it to the thread that calls it.
template <typename R, typename... Args>
class UniqueFunction<R(Args...)> {
 public:
  UniqueFunction() noexcept = default;
  // Implicit, as std::function's: a lambda or nullptr passes where a callback is expected. The
  // requires-clause keeps UniqueFunction itself out, so the move constructor is not hidden
  // (bugprone-forwarding-reference-overload cannot see that).
  // NOLINTBEGIN(google-explicit-constructor,bugprone-forwarding-reference-overload)
  UniqueFunction(std::nullptr_t) noexcept {}

  template <typename F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, UniqueFunction> &&
           std::is_invocable_r_v<R, std::decay_t<F>&, Args...>) UniqueFunction(F&& callable) {
    // NOLINTEND(google-explicit-constructor,bugprone-forwarding-reference-overload)
    using Held = std::decay_t<F>;
    if constexpr (kFitsInline<Held>) {
      ::new (static_cast<void*>(storage_)) Held(std::forward<F>(callable));
      ops_ = &kInlineOps<Held>;
    } else {
      ::new (static_cast<void*>(storage_)) Held*(new Held(std::forward<F>(callable)));
      ops_ = &kHeapOps<Held>;
    }
  }

  UniqueFunction(UniqueFunction&& other) noexcept : ops_(std::exchange(other.ops_, nullptr)) {
    if (ops_ != nullptr) ops_->move(storage_, other.storage_);
  }
  UniqueFunction& operator=(UniqueFunction&& other) noexcept {
    if (this != &other) {
      Reset();
      ops_ = std::exchange(other.ops_, nullptr);
      if (ops_ != nullptr) ops_->move(storage_, other.storage_);
    }
    return *this;
  }
  UniqueFunction(const UniqueFunction&) = delete;
  UniqueFunction& operator=(const UniqueFunction&) = delete;
  ~UniqueFunction() { Reset(); }

  /// Calls the held callable. Its exceptions propagate.
  R operator()(Args... args) { return ops_->call(storage_, std::forward<Args>(args)...); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }

 private:
  static constexpr std::size_t kInlineSize = 64;

  struct Ops {
    R (*call)(void* storage, Args&&... args);
    /// Move-constructs into `to` and destroys what `from` held.
    void (*move)(void* to, void* from) noexcept;
    void (*destroy)(void* storage) noexcept;
  };

  template <typename Held>
  static constexpr bool kFitsInline =
      sizeof(Held) <= kInlineSize &&
      alignof(Held) <= alignof(std::max_align_t) && std::is_nothrow_move_constructible_v<Held>;

  template <typename Held>
  static constexpr Ops kInlineOps{
      [](void* storage, Args&&... args) -> R {
        return (*std::launder(static_cast<Held*>(storage)))(std::forward<Args>(args)...);
      },
      [](void* to, void* from) noexcept {
        Held* source = std::launder(static_cast<Held*>(from));
        ::new (to) Held(std::move(*source));
        source->~Held();
      },
      [](void* storage) noexcept { std::launder(static_cast<Held*>(storage))->~Held(); }};

  template <typename Held>
  static constexpr Ops kHeapOps{
      [](void* storage, Args&&... args) -> R {
        return (**std::launder(static_cast<Held**>(storage)))(std::forward<Args>(args)...);
      },
      [](void* to, void* from) noexcept {
        ::new (to) Held*(*std::launder(static_cast<Held**>(from)));
      },
      [](void* storage) noexcept { delete *std::launder(static_cast<Held**>(storage)); }};

  void Reset() noexcept {
    if (ops_ != nullptr) std::exchange(ops_, nullptr)->destroy(storage_);
  }

  alignas(std::max_align_t) unsigned char storage_[kInlineSize];
  const Ops* ops_ = nullptr;
};

/// Receives the outcome of an operation that completes later. Called exactly once, possibly on
/// another thread (a store's writer thread) or, when the operation fails before it starts, on
/// the caller's thread before the call returns.
template <typename T>
using Callback = UniqueFunction<void(Result<T>)>;

/// Calls `start` with a Callback<T> and waits until that callback is called: the synchronous
/// face of an operation that answers through a callback. Blocks the calling thread, so never
/// call it on a thread that must answer the callback itself. If the operation drops the callback
/// without calling it, the result is INTERNAL_ERROR. Exceptions from `start` propagate.
template <typename T, typename Start>
Result<T> AwaitCallback(Start&& start) {
  struct Waiter {
    std::mutex mutex;
    std::condition_variable answered;
    std::optional<Result<T>> outcome;
  };
  // Delivers once, under the waiter's lock: the waiting frame (which owns the Waiter) cannot
  // return before the deliverer has released the lock and no longer touches it.
  class Answer {
   public:
    explicit Answer(Waiter& waiter) : waiter_(&waiter) {}
    Answer(Answer&& other) noexcept : waiter_(std::exchange(other.waiter_, nullptr)) {}
    Answer& operator=(Answer&&) = delete;
    Answer(const Answer&) = delete;
    Answer& operator=(const Answer&) = delete;
    ~Answer() {
      if (waiter_ != nullptr) {
        Deliver(Fail(Error::Internal("The operation ended without an answer.")));
      }
    }
    void operator()(Result<T> outcome) { Deliver(std::move(outcome)); }

   private:
    void Deliver(Result<T> outcome) {
      Waiter* waiter = std::exchange(waiter_, nullptr);
      if (waiter == nullptr) return;
      std::lock_guard lock(waiter->mutex);
      waiter->outcome.emplace(std::move(outcome));
      waiter->answered.notify_one();
    }

    Waiter* waiter_;
  };

  Waiter waiter;
  start(Callback<T>(Answer(waiter)));
  std::unique_lock lock(waiter.mutex);
  waiter.answered.wait(lock, [&] { return waiter.outcome.has_value(); });
  return std::move(*waiter.outcome);
}

}  // namespace mltf
