// The `fuzz_replay` test of the default suite: runs every committed seed and regression input
// through its target, so a reader bug that the fuzzers once found stays fixed in every build.
//   fuzz_replay FUZZ_DIR              all of FUZZ_DIR/{corpus,regressions}/<target>/
//   fuzz_replay FUZZ_DIR TARGET FILE...  the given files through one target (for debugging)
// An input fails when its target throws anything but difflab::Error (the targets catch those)
// or the process dies (a crash, or a target's finding(), which aborts). Inputs run on a thread
// with a small stack, so that recursion driven by the input (JSON nested a few thousand levels
// deep) overflows it with regression files of a few KB, as it would a full stack with larger
// input.
#include <dlfcn.h>
#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <typeinfo>
#include <vector>

#include "fuzz/targets.h"
#include "tensor/threads.h"

namespace fs = std::filesystem;
using difflab::fuzz::Target;

namespace {

#if defined(__SANITIZE_ADDRESS__)
#define DIFFLAB_REPLAY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DIFFLAB_REPLAY_ASAN 1
#endif
#endif
#ifdef DIFFLAB_REPLAY_ASAN
constexpr size_t kStackBytes = size_t(1)
                               << 20;  // AddressSanitizer's frames are several times larger
#else
constexpr size_t kStackBytes = size_t(128) << 10;
#endif

struct Call {
  const Target* target;
  const std::string* bytes;
  std::exception_ptr error;
};

void* run_call(void* arg) {
  auto* c = static_cast<Call*>(arg);
  try {
    c->target->run(reinterpret_cast<const uint8_t*>(c->bytes->data()), c->bytes->size());
  } catch (...) {
    c->error = std::current_exception();
  }
  return nullptr;
}

// glibc carves static thread-local storage out of a thread's stack; linked libraries (the CUDA
// runtime and cuBLAS in a CUDA build) can hold more of it than kStackBytes. The minimum glibc
// needs for this process, when it says (a private but long-standing symbol), else 0.
size_t static_tls_bytes(const pthread_attr_t* attr) {
  using Fn = size_t (*)(const pthread_attr_t*);
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "__pthread_get_minstack"));
  return fn ? fn(attr) : 0;
}

// Runs the target on a thread with kStackBytes of usable stack; rethrows what it threw.
void run_small_stack(const Target& t, const std::string& bytes) {
  Call call{&t, &bytes, nullptr};
  pthread_attr_t attr;
  pthread_t thread;
  if (pthread_attr_init(&attr) != 0 ||
      pthread_attr_setstacksize(&attr, kStackBytes + static_tls_bytes(&attr)) != 0 ||
      pthread_create(&thread, &attr, run_call, &call) != 0) {
    std::fprintf(stderr, "fuzz_replay: cannot start a thread\n");
    std::exit(2);
  }
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  if (call.error) std::rethrow_exception(call.error);
}

bool replay(const Target& t, const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz_replay: cannot read %s\n", file.c_str());
    return false;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "fuzz_replay: %s %s (%zu bytes)\n", t.name, file.c_str(), bytes.size());
  try {
    run_small_stack(t, bytes);
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_replay: FAILED %s: unexpected %s: %s\n", file.c_str(),
                 typeid(e).name(), e.what());
  } catch (...) {
    std::fprintf(stderr, "fuzz_replay: FAILED %s: an exception not derived from std::exception\n",
                 file.c_str());
  }
  return false;
}

std::vector<fs::path> files_under(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fuzz_replay FUZZ_DIR [TARGET FILE...]\n");
    return 2;
  }
  difflab::tensor::set_num_threads(1);
  const fs::path root = argv[1];
  int failed = 0, total = 0;
  if (argc >= 3) {
    auto ts = difflab::fuzz::targets();
    auto t = std::find_if(ts.begin(), ts.end(),
                          [&](const Target& x) { return std::string(x.name) == argv[2]; });
    if (t == ts.end()) {
      std::fprintf(stderr, "fuzz_replay: no target '%s'\n", argv[2]);
      return 2;
    }
    for (int i = 3; i < argc; ++i, ++total) failed += !replay(*t, argv[i]);
  } else {
    for (const Target& t : difflab::fuzz::targets()) {
      const auto seeds = files_under(root / "corpus" / t.name);
      if (seeds.empty()) {
        std::fprintf(stderr, "fuzz_replay: no seeds under %s\n",
                     (root / "corpus" / t.name).c_str());
        ++failed;
      }
      for (auto& f : seeds) ++total, failed += !replay(t, f);
      for (auto& f : files_under(root / "regressions" / t.name)) ++total, failed += !replay(t, f);
    }
  }
  std::printf("fuzz_replay: %d inputs, %d failed\n", total, failed);
  return failed ? 1 : 0;
}
