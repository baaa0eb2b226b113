// Native-heavy tests (libtorch, ONNX Runtime) share two cores and large buffers: run them one at a time.
[assembly: DoNotParallelize]
