// Independent jobs on a few threads: parallel_jobs(n, threads, job) runs job(i) for every i in [0, n), each index
// on whichever thread is free next (so long and short jobs balance), and returns when all are done. The jobs must
// not depend on each other or on their order; what they write to their own slot i is then the same for any number
// of threads. Errors: every job runs to its end or its exception, then the exception of the lowest index is
// rethrown (the one a serial loop would have met first).
//
// Example: std::vector<double> out(n); parallel_jobs(n, hardware_threads(), [&](size_t i) { out[i] = f(i); });
#pragma once

#include <cstddef>
#include <functional>

namespace v3sim {

// std::thread::hardware_concurrency(), at least 1.
size_t hardware_threads();

// @pre threads >= 1 (1: the calling thread runs every job, in order)
void parallel_jobs(size_t n, size_t threads, const std::function<void(size_t)>& job);

}  // namespace v3sim
