// A last, partial batch with determ-indiv: image_sample.py always runs full batch_size rows, the generator's row
// indices clamped to num_samples - 1, so the padding rows of the last call draw again from the last sample's own
// generator. The pipeline must reproduce that (the padding consumes draws) and must not let it leak into other samples.
using ConsistencyModels.IO.Images;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Sampling;
using ConsistencyModels.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Pipelines;

public class PartialBatchTests
{
    private const long Seed = 42;
    private static readonly int[] Labels = [5, 6, 7];
    private static readonly SamplingOptions Multistep = new() { Sampler = SamplerKind.Multistep, Ts = [0, 22, 39], Steps = 40 };

    /// <summary>
    /// The official loop written out by hand: one DeterministicIndividualGenerator(3, seed), set_done_samples(done)
    /// before each call, every call [batch, 3, 64, 64] with labels clamped like the generator rows; returns the kept rows.
    /// </summary>
    private static byte[] OfficialLoop(ConsistencyPipeline pipeline, int n, int batch)
    {
        var rng = new DeterministicIndividualGenerator(n, Seed);
        var images = new List<byte>();
        for (int done = 0; done < n; done += batch)
        {
            using var _ = inference_mode();
            using var scope = NewDisposeScope();
            rng.SetDoneSamples(done);
            var y = tensor(Enumerable.Range(done, batch).Select(i => (long)Labels[Math.Min(i, n - 1)]).ToArray());
            var size = pipeline.Config.ImageSize;
            var x = KarrasSample.Sample(pipeline.CreateDenoiser(y), [batch, 3, size, size], Multistep, rng, pipeline.Preconditioning);
            int keep = Math.Min(batch, n - done);
            images.AddRange(ImageIO.ToUint8Nhwc(x[..keep]).bytes.ToArray());
        }
        return [.. images];
    }

    [SkippableFact]
    public void LastPartialBatchDrawsTheLastSamplesGeneratorForEveryPaddedRow()
    {
        var pipeline = EndToEndTests.Load("e2e_im64_multistep_determ_2batches").Pipeline;   // imagenet64 w32 model, consistency
        var request = new GenerationRequest
        {
            NumSamples = 3, BatchSize = 2, Seed = Seed, Generator = GeneratorKind.DetermIndiv, ClassLabels = Labels, Sampling = Multistep,
        };
        int imageBytes = 64 * 64 * 3;

        var result = pipeline.Generate(request);
        Assert.Equal(3, result.Count);
        Assert.Equal(new long[] { 5, 6, 7 }, result.Labels);

        // Exact equality: the hand-written loop and the pipeline run the same network on the same inputs with the same
        // batch shape ([2, 3, 64, 64]) in the same process, and the same generator rows, so every float operation is
        // identical; any difference means the pipeline drew the noise differently (e.g. a batch of 1 for the last
        // sample, or rows from another sample's generator).
        var official = OfficialLoop(pipeline, n: 3, batch: 2);
        Assert.Equal(official.Length, result.Images.Length);
        Assert.True(official.AsSpan(2 * imageBytes).SequenceEqual(result.Images.AsSpan(2 * imageBytes)),
            "sample 2 (last, partial batch) differs from the official batch-2 call with clamped generator rows");
        Assert.True(official.AsSpan(0, 2 * imageBytes).SequenceEqual(result.Images.AsSpan(0, 2 * imageBytes)),
            "samples 0-1 differ from the official first batch");

        // Samples 0 and 1 use only their own generators, drawn once per call: they do not depend on the batch size.
        // (Up to 1 uint8 level: a batch of 3 may sum in another order than a batch of 2 inside oneDNN.)
        var full = pipeline.Generate(request with { BatchSize = 3 });
        EndToEndTests.AssertImagesMatch(full.Images[..(2 * imageBytes)], result.Images[..(2 * imageBytes)], "samples 0-1, batch 2 vs batch 3");

        // Sample 2 does depend on it: in the padded call its generator is drawn twice per randn (rows 0 and 1), so the
        // noise added after the first multistep evaluation is its third draw instead of its second. This proves the
        // padding row really consumed draws (a pipeline running a batch of 1 would give the batch-3 image).
        int differing = 0;
        for (int i = 2 * imageBytes; i < 3 * imageBytes; i++) if (full.Images[i] != result.Images[i]) differing++;
        Assert.True(differing > imageBytes / 10, $"sample 2 with batch 3 vs padded batch 2: only {differing} of {imageBytes} values differ");
    }
}
