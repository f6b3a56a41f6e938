// Stand-ins for the CUDA built-ins that minicnn/backend/gpu.py's kernels use, so that the host
// C++ compiler builds the very same source into a shared library that the tests call through
// ctypes. A kernel call runs one simulated thread: the test sets (block, thread, grid size,
// block size) with minicnn_set_thread before each call, so that the threads of a small grid,
// called one after another, run each grid-stride loop as the GPU's threads would.
#pragma once

#include <cmath>
#include <cstring>

// CUDA's math functions are overloaded for float and double, as std's are.
using std::exp;
using std::log;

#define __global__
#define __device__
#define __forceinline__ inline

struct minicnn_dim3 {
    unsigned int x, y, z;
};

static minicnn_dim3 blockIdx = {0, 0, 0}, threadIdx = {0, 0, 0};
static minicnn_dim3 blockDim = {1, 1, 1}, gridDim = {1, 1, 1};

extern "C" void minicnn_set_thread(unsigned int block, unsigned int thread, unsigned int blocks,
                                   unsigned int threads) {
    blockIdx.x = block;
    threadIdx.x = thread;
    gridDim.x = blocks;
    blockDim.x = threads;
}

inline float __int_as_float(int bits) {
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

inline double __longlong_as_double(long long bits) {
    double value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

// The simulated threads run one after another: a plain add is atomic here.
inline double atomicAdd(double* address, double value) {
    const double old = *address;
    *address = old + value;
    return old;
}

inline float atomicAdd(float* address, float value) {
    const float old = *address;
    *address = old + value;
    return old;
}
