#pragma once
/// \file A move-only std::function (C++23's std::move_only_function is not in GCC 12's C++20).
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace hs {

template <class Signature> class unique_function;

/// Holds any move-only callable. Callables up to 32 bytes live inline (no allocation), which
/// covers a responder plus a few ids: the store's completion path allocates nothing.
template <class R, class... Args> class unique_function<R(Args...)> {
public:
    unique_function() noexcept = default;
    unique_function(std::nullptr_t) noexcept {}

    template <class F, class D = std::decay_t<F>,
              class = std::enable_if_t<!std::is_same_v<D, unique_function> &&
                                       std::is_invocable_r_v<R, D&, Args...>>>
    unique_function(F&& f) { // NOLINT(google-explicit-constructor): mirrors std::function
        if constexpr (sizeof(D) <= inline_size && alignof(D) <= alignof(std::max_align_t) &&
                      std::is_nothrow_move_constructible_v<D>) {
            ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
            ops_ = &inline_ops<D>;
        } else {
            ::new (static_cast<void*>(storage_)) D*(new D(std::forward<F>(f)));
            ops_ = &heap_ops<D>;
        }
    }

    unique_function(unique_function&& o) noexcept : ops_(o.ops_) {
        if (ops_ != nullptr) {
            ops_->move(o.storage_, storage_);
            o.ops_ = nullptr;
        }
    }
    unique_function& operator=(unique_function&& o) noexcept {
        if (this != &o) {
            reset();
            ops_ = o.ops_;
            if (ops_ != nullptr) {
                ops_->move(o.storage_, storage_);
                o.ops_ = nullptr;
            }
        }
        return *this;
    }
    unique_function(const unique_function&) = delete;
    unique_function& operator=(const unique_function&) = delete;
    ~unique_function() { reset(); }

    explicit operator bool() const noexcept { return ops_ != nullptr; }

    /// Calls the target; calling an empty unique_function is undefined, as for std::function.
    R operator()(Args... args) { return ops_->call(storage_, std::forward<Args>(args)...); }

private:
    static constexpr std::size_t inline_size = 32;
    struct ops {
        R (*call)(void*, Args&&...);
        void (*move)(void* from, void* to) noexcept;
        void (*destroy)(void*) noexcept;
    };
    template <class D>
    static constexpr ops inline_ops{
        [](void* p, Args&&... a) -> R { return (*static_cast<D*>(p))(std::forward<Args>(a)...); },
        [](void* from, void* to) noexcept {
            ::new (to) D(std::move(*static_cast<D*>(from)));
            static_cast<D*>(from)->~D();
        },
        [](void* p) noexcept { static_cast<D*>(p)->~D(); }};
    template <class D>
    static constexpr ops heap_ops{
        [](void* p, Args&&... a) -> R { return (**static_cast<D**>(p))(std::forward<Args>(a)...); },
        [](void* from, void* to) noexcept { ::new (to) D*(*static_cast<D**>(from)); },
        [](void* p) noexcept { delete *static_cast<D**>(p); }};

    void reset() noexcept {
        if (ops_ != nullptr) {
            ops_->destroy(storage_);
            ops_ = nullptr;
        }
    }

    alignas(std::max_align_t) unsigned char storage_[inline_size];
    const ops* ops_ = nullptr;
};

} // namespace hs
