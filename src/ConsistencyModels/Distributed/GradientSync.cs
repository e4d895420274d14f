// Data-parallel training without DDP (TorchSharp has none): rank 0's weights to every rank at the start, and after each
// backward the gradients summed over ranks, so N ranks take the step one process would take with the whole batch (in
// mixed precision the sums are rounded back to the gradients' bf16/fp16, as DDP's half-precision allreduce does).
using TorchSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.Distributed;

/// <summary>The collective operations of a training step over <see cref="World"/>; each is the identity in one process.</summary>
public sealed class GradientSync(ICommunicator world)
{
    private float[]? _bucket;                                          // gradient staging for the MPI allreduce

    public ICommunicator World => world;

    /// <summary>Rank 0's values of <paramref name="tensors"/> (fp32) to every rank: all ranks start from the same weights.</summary>
    public void Broadcast(IEnumerable<Tensor> tensors)
    {
        if (world.Size == 1) return;
        foreach (var t in tensors)
        {
            if (t.dtype != ScalarType.Float32) throw new NotSupportedException($"broadcasting {t.dtype} parameters is not supported (training broadcasts its fp32 weights and master weights)");
            using var cpu = t.detach().cpu().contiguous();
            var values = cpu.data<float>().ToArray();
            world.Broadcast(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            using (no_grad()) using (var received = torch.tensor(values).reshape(t.shape)) t.copy_(received);
        }
    }

    /// <summary>Sums the gradients of <paramref name="parameters"/> over ranks, in buckets of up to 16M floats (few large MPI calls).</summary>
    public void SumGradients(IEnumerable<Tensor> parameters)
    {
        if (world.Size == 1) return;
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToArray();
        // One staging buffer for the whole run: a step allocates nothing of gradient size.
        _bucket ??= new float[Math.Max(1 << 24, grads.Max(g => g.numel()))];
        var bucket = _bucket;
        var pending = new List<Tensor>();
        int filled = 0;
        void Flush()
        {
            world.AllreduceSum(bucket.AsSpan(0, filled));
            int offset = 0;
            foreach (var g in pending)
            {
                int n = (int)g.numel();
                var summed = (ReadOnlySpan<float>)bucket.AsSpan(offset, n);
                if (g.device_type == DeviceType.CPU && g.dtype == ScalarType.Float32 && g.is_contiguous()) g.data<float>().CopyFrom(summed, 0, 0);
                else
                {
                    using var staged = zeros(g.shape, ScalarType.Float32);
                    staged.data<float>().CopyFrom(summed, 0, 0);
                    using (no_grad()) g.copy_(staged);
                }
                offset += n;
            }
            pending.Clear();
            filled = 0;
        }
        foreach (var g in grads)
        {
            int n = (int)g.numel();
            if (filled + n > bucket.Length) Flush();
            using (var cpu = g.detach().to(ScalarType.Float32, CPU).contiguous()) cpu.data<float>().CopyTo(bucket.AsSpan(filled, n), 0, 0);
            pending.Add(g);
            filled += n;
        }
        if (filled > 0) Flush();
    }

    /// <summary>The sum of <paramref name="value"/> over ranks.</summary>
    public double Sum(double value)
    {
        if (world.Size == 1) return value;
        var total = new[] { value };
        world.AllreduceSum(total);
        return total[0];
    }
}
