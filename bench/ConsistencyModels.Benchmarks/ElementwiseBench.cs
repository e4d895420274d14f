// What the elementwise operators of a training step cost next to a memory pass: SiLU (whose sigmoid is an exp per
// element), its backward, GroupNorm and dropout, on one 32x32 activation of fmnist32 at batch 32, fp32 and bf16. Usage:
//   dotnet run -c Release --project bench/ConsistencyModels.Benchmarks -- --suite elementwise [--threads N] [--quick]
using static TorchSharp.torch;

namespace ConsistencyModels.Benchmarks;

internal static class ElementwiseBench
{
    public static int Run(bool quick)
    {
        int reps = quick ? 9 : 25;
        Console.WriteLine($"threads {get_num_threads()}; {ConvYardstick.CpuName()}; median ms of {reps}, tensor [32, 64, 32, 32] (2.1 M elements)");
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            using var x = randn([32, 64, 32, 32]).to(dtype);
            using var g = randn([32, 64, 32, 32]).to(dtype);
            using var w = ones(64);
            using var b = zeros(64);
            using var wx = ones(64).to(dtype);
            using var bx = zeros(64).to(dtype);
            using var drop = new Nn.Dropout(0.1);
            drop.train();
            var cases = new (string Name, Action Body)[]
            {
                ("copy (clone)", () => { using var y = x.clone(); }),
                ("mul by scalar", () => { using var y = x * 1.5; }),
                ("relu", () => { using var y = nn.functional.relu(x); }),
                ("exp", () => { using var y = x.exp(); }),
                ("sigmoid", () => { using var y = x.sigmoid(); }),
                ("silu", () => { using var y = nn.functional.silu(x); }),
                ("silu forward+backward", () =>
                {
                    using var xi = x.detach().requires_grad_(true);
                    using var y = nn.functional.silu(xi);
                    y.backward([g]);
                    xi.grad?.Dispose();
                }),
                ("group_norm (32 groups)", () => { using var y = nn.functional.group_norm(x, 32, dtype == ScalarType.Float32 ? w : wx, dtype == ScalarType.Float32 ? b : bx, 1e-5); }),
                ("group_norm forward+backward", () =>
                {
                    using var xi = x.detach().requires_grad_(true);
                    using var y = nn.functional.group_norm(xi, 32, dtype == ScalarType.Float32 ? w : wx, dtype == ScalarType.Float32 ? b : bx, 1e-5);
                    y.backward([g]);
                    xi.grad?.Dispose();
                }),
                ("hashed dropout p 0.1 (Nn.Dropout)", () => { using var y = drop.call(x); }),
                ("its mask alone (Dropout.Noise)", () => { using var y = Nn.Dropout.Noise(x.shape, dtype, 0.1, 7); }),
                ("an empty tensor", () => { using var y = empty(x.shape, dtype: dtype); }),
            };
            foreach (var (name, body) in cases)
            {
                var m = Harness.Run($"{name} {dtype}", body, 3, reps);
                Console.WriteLine($"{dtype,-9} {name,-36} {m.MedianMs,8:F2} ms");
            }
        }
        // The same masks once the C heap keeps freed blocks (what cm train sets): the difference is the page faults of
        // fresh allocations. Last, because the setting holds for the rest of the process.
        Runtime.NativeHeap.RetainFreedMemory();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            var m = Harness.Run($"mask, heap kept {dtype}", () => { using var y = Nn.Dropout.Noise([32, 64, 32, 32], dtype, 0.1, 7); }, 3, reps);
            Console.WriteLine($"{dtype,-9} {"its mask alone, freed blocks kept",-36} {m.MedianMs,8:F2} ms");
        }
        return 0;
    }
}
