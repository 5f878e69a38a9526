// The libFuzzer entry of one target, chosen at compile time: -DDIFFLAB_FUZZ_TARGET=fuzz_config.
#include "fuzz/targets.h"
#include "tensor/threads.h"

#ifndef DIFFLAB_FUZZ_TARGET
#error "compile with -DDIFFLAB_FUZZ_TARGET=<a function of fuzz/targets.h>"
#endif

// One thread: inputs are small, and an OpenMP team per run only costs time and cores.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  difflab::tensor::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return difflab::fuzz::DIFFLAB_FUZZ_TARGET(data, size);
}
