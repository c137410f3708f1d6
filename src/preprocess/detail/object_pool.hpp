#pragma once
/// Private: a pool of stateful objects (face detectors, networks) lent to one thread at a time.
///
/// dlib's scanners and networks and cv::CascadeClassifier keep scratch state inside, so two threads must
/// never use one at once. Building one is costly (deserialising a model), so rather than a thread_local
/// (rebuilt for every worker thread of every pipeline run, and impossible per instance) objects live in a
/// pool: a thread borrows one for the duration of a call. The pool grows to the largest number of
/// concurrent callers and no further.
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace mer::detail {

template <class T>
class ObjectPool {
 public:
  /// `make` builds a fresh object when none is free; it may be called from several threads at once.
  explicit ObjectPool(std::function<std::unique_ptr<T>()> make) : make_(std::move(make)) {}

  class Lease {
   public:
    Lease(ObjectPool& pool, std::unique_ptr<T> object) : pool_(pool), object_(std::move(object)) {}
    ~Lease() { pool_.give_back(std::move(object_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    T& operator*() { return *object_; }
    T* operator->() { return object_.get(); }

   private:
    ObjectPool& pool_;
    std::unique_ptr<T> object_;
  };

  Lease borrow() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        auto object = std::move(free_.back());
        free_.pop_back();
        return Lease(*this, std::move(object));
      }
    }
    // Built outside the lock: a slow build must not stall threads that could reuse a free object.
    return Lease(*this, make_());
  }

  /// Puts a ready object into the pool (e.g. the one built to validate a model file at construction).
  void add(std::unique_ptr<T> object) { give_back(std::move(object)); }

 private:
  void give_back(std::unique_ptr<T> object) {
    if (!object) return;
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(object));
  }
  std::function<std::unique_ptr<T>()> make_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<T>> free_;
};

}  // namespace mer::detail
