// Tests share libtorch's global thread pool and the tensor statistics, so they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
