// The CUDA runtime seam: device errors that hold in every build, and (with a GPU) the caching
// allocator, copies between devices, mixed-device errors and random streams.
#include <boost/test/unit_test.hpp>

#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"
#include "tests/support/cuda_gate.h"
#if DIFFLAB_HAVE_CUDA
#include "tensor/cuda/allocator.h"
#include "tensor/cuda/runtime.h"
#endif

using namespace difflab;
using namespace difflab::tensor;
namespace dt = difflab::testing;
namespace utf = boost::unit_test;

BOOST_AUTO_TEST_CASE(parse_device_names) {
  BOOST_TEST(parse_device("cpu").is_cpu());
  BOOST_TEST(parse_device("cuda") == Device::cuda(0));
  BOOST_TEST(parse_device("cuda:3") == Device::cuda(3));
  BOOST_CHECK_EXCEPTION(parse_device("gpu"), Error,
                        [](const Error& e) { return dt::message_has(e, {"unknown device 'gpu'"}); });
}

// Without a GPU (CI, this machine) a CUDA tensor is refused with the reason, not a crash.
BOOST_AUTO_TEST_CASE(no_gpu_is_a_clear_error) {
  if (cuda_device_count() > 0) {
    BOOST_TEST_MESSAGE("a GPU is present; the no-GPU error is not exercised");
    BOOST_CHECK_EXCEPTION(Tensor::empty({2}, DType::f32, Device::cuda(99)), Error,
                          [](const Error& e) { return dt::message_has(e, {"cuda:99"}); });
    return;
  }
  BOOST_TEST_MESSAGE("no GPU: " << cuda_unavailable_reason());
  BOOST_TEST(!cuda_unavailable_reason().empty());
  BOOST_CHECK_EXCEPTION(Tensor::empty({2}, DType::f32, Device::cuda(0)), Error,
                        [](const Error& e) { return dt::message_has(e, {"cuda:0", "--device cpu"}); });
  BOOST_CHECK_EXCEPTION(ones({2}).to(Device::cuda(0)), Error,
                        [](const Error& e) { return dt::message_has(e, {"cuda:0"}); });
}

#if DIFFLAB_HAVE_CUDA
BOOST_AUTO_TEST_CASE(allocator_bins) {
  using cuda::CudaAllocator;
  BOOST_TEST(CudaAllocator::bin_size(1) == 512u);
  BOOST_TEST(CudaAllocator::bin_size(513) == 1024u);
  BOOST_TEST(CudaAllocator::bin_size(size_t(1) << 20) == size_t(1) << 20);
  BOOST_TEST(CudaAllocator::bin_size((size_t(1) << 20) + 1) == size_t(2) << 20);
  BOOST_TEST(CudaAllocator::bin_size((size_t(5) << 20) + 1) == size_t(6) << 20);
}

BOOST_AUTO_TEST_CASE(copies_and_reuse, *utf::precondition(dt::CudaAvailable())) {
  using cuda::CudaAllocator;
  const Device gpu = Device::cuda(0);
  Generator gen(7);
  Tensor a = randn({33, 17}, DType::f32, &gen);
  const size_t base = CudaAllocator::instance().stats(0).live_bytes;
  {
    Tensor d = a.to(gpu);
    BOOST_TEST(d.device() == gpu);
    BOOST_TEST(CudaAllocator::instance().stats(0).live_bytes > base);
    // Round trip, strided views, dtype conversion on the device.
    BOOST_TEST(dt::scaled_max_diff(d, a) == 0.0);
    Tensor t = d.transpose(0, 1);
    BOOST_TEST(dt::scaled_max_diff(t.contiguous(), a.transpose(0, 1)) == 0.0);
    BOOST_TEST(dt::scaled_max_diff(d.to(DType::f64), a.to(DType::f64)) == 0.0);
    Tensor host_view = Tensor::empty({17, 33});
    host_view.copy_(t);  // device -> host into a fresh layout
    BOOST_TEST(dt::scaled_max_diff(host_view, a.transpose(0, 1)) == 0.0);
    Tensor z = zeros({33, 17}, DType::f32, gpu);
    z.slice(0, 0, 33, 2).copy_(a.slice(0, 0, 33, 2));  // host -> strided device view
    BOOST_TEST(z.slice(0, 1, 33, 2).to(Device::cpu()).to_vector<float>() ==
               std::vector<float>(16 * 17, 0.0f));
    BOOST_CHECK_THROW(d.item(), Error);
    BOOST_TEST(d.select(0, 3).select(0, 5).item() == double(a.select(0, 3).select(0, 5).item()));
  }
  cuda::synchronize(0);
  // Every block went back to the cache: live bytes return to the baseline.
  BOOST_TEST(CudaAllocator::instance().stats(0).live_bytes == base);
  const size_t os_allocs = CudaAllocator::instance().stats(0).num_os_allocs;
  { Tensor again = a.to(gpu); }
  BOOST_TEST(CudaAllocator::instance().stats(0).num_os_allocs == os_allocs);  // a cache hit
}

BOOST_AUTO_TEST_CASE(mixed_devices_are_named, *utf::precondition(dt::CudaAvailable())) {
  Tensor a = ones({3}), b = ones({3}).to(Device::cuda(0));
  BOOST_CHECK_EXCEPTION(binary(BinaryOp::add, a, b), Error,
                        [](const Error& e) { return dt::message_has(e, {"add", "cuda:0", "cpu"}); });
  BOOST_CHECK_EXCEPTION(binary(BinaryOp::add, b, a), Error,
                        [](const Error& e) { return dt::message_has(e, {"add", "cuda:0", "cpu"}); });
}
#endif
