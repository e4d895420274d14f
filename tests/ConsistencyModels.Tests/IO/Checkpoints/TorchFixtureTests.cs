using System.IO.Compression;
using System.Text.Json;
using ConsistencyModels.IO.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.IO.Checkpoints;

/// <summary>Reads the checkpoints PyTorch itself wrote for the golden fixtures.</summary>
public class TorchFixtureTests
{
    [SkippableFact]
    public void Plain_and_fp16_layout_checkpoints_load_541_identical_tensors()
    {
        var plain = TorchCheckpoint.LoadStateDict(FixturePaths.Require("model_imagenet64_topology.pt"));
        var shared = TorchCheckpoint.LoadStateDict(FixturePaths.Require("model_imagenet64_topology_fp16layout.pt"));
        try
        {
            Assert.Equal(541, plain.Count);
            Assert.Equal(541, shared.Count);
            TensorAssert.SameStateDict(plain, shared);
            Assert.All(plain.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
            // The fp16-layout tensors were views into two shared buffers: after loading none may alias another.
            TensorAssert.NoAliasing(shared.Values);
            TensorAssert.NoAliasing(plain.Values);
        }
        finally
        {
            TensorAssert.DisposeAll(plain.Values);
            TensorAssert.DisposeAll(shared.Values);
        }
    }

    [SkippableTheory]
    [InlineData("model_imagenet64_topology.pt")]
    [InlineData("model_imagenet64_topology_fp16layout.pt")]
    public void Values_match_an_independent_reading(string file)
    {
        var sd = TorchCheckpoint.LoadStateDict(FixturePaths.Require(file));
        try
        {
            // Anchors read from the file with Python's pickle and array modules (no torch), honouring offsets.
            Assert.Equal(-0.005585928447544575, (double)sd["time_embed.0.weight"][0, 0].item<float>());
            Assert.Equal(-0.013767629861831665, (double)sd["time_embed.0.weight"][127, 31].item<float>());
            Assert.Equal(-0.029469339177012444, (double)sd["label_emb.weight"][917, 5].item<float>());
            Assert.Equal(0.0970638245344162, (double)sd["out.2.bias"][2].item<float>());
            Assert.Equal(-0.002312497701495886, (double)sd["input_blocks.1.0.in_layers.2.weight"][31, 30, 2, 1].item<float>());
        }
        finally { TensorAssert.DisposeAll(sd.Values); }
    }

    [SkippableFact]
    public void Key_order_matches_the_reference_key_list()
    {
        // keys_imagenet64.txt: "<name>\t[shape at full width 192]"; the fixtures are width 32, so compare names only.
        var referenceFile = FixturePaths.RequireReference("keys_imagenet64.txt");
        var expected = File.ReadAllLines(referenceFile).Where(l => l.Length > 0).Select(l => l.Split('\t')[0]).ToList();
        foreach (var file in new[] { "model_imagenet64_topology.pt", "model_imagenet64_topology_fp16layout.pt" })
        {
            var sd = TorchCheckpoint.LoadStateDict(FixturePaths.Require(file));
            try { Assert.Equal(expected, sd.Keys); }
            finally { TensorAssert.DisposeAll(sd.Values); }
        }
    }

    [SkippableFact]
    public void Fp16_layout_pickle_has_two_shared_storages_with_the_manifest_offsets()
    {
        var path = FixturePaths.Require("model_imagenet64_topology_fp16layout.pt");
        using var zip = ZipFile.OpenRead(path);
        var pkl = zip.Entries.Single(e => e.FullName.EndsWith("/data.pkl"));
        using var ms = new MemoryStream();
        using (var s = pkl.Open()) s.CopyTo(ms);
        var graph = (OrderedDictionary<string, object?>)PickleReader.Load(ms.ToArray(), path, new TorchPickleResolver(path))!;
        var recipes = graph.ToDictionary(kv => kv.Key, kv => (TorchTensorRecipe)kv.Value!);

        using var manifest = JsonDocument.Parse(File.ReadAllText(FixturePaths.Require("MANIFEST.json")));
        var info = manifest.RootElement.GetProperty("checkpoints").GetProperty("model_imagenet64_topology_fp16layout.pt");
        var sizes = info.GetProperty("storage_sizes_elems").EnumerateArray().Select(e => e.GetInt64()).Order().ToArray();
        Assert.Equal(sizes, recipes.Values.Select(r => r.Storage).Distinct().Select(s => s.Numel).Order().ToArray());
        foreach (var p in info.GetProperty("storage_offsets").EnumerateObject())
            Assert.Equal(p.Value.GetInt64(), recipes[p.Name].Offset);
    }

    public static TheoryData<string> ManifestFiles() =>
        ["unet_imagenet64.pt", "lpips_random_weights.pt", "schedules.pt", "sigmas.pt", "generators.pt", "unet_lsun256.pt",
         "losses_imagenet64.pt", "sampling_imagenet64.pt", "sampling_lsun256.pt", "editing_imagenet64.pt"];

    [SkippableTheory]
    [MemberData(nameof(ManifestFiles))]
    public void Fixture_files_match_the_manifest_exactly(string file)
    {
        using var manifest = JsonDocument.Parse(File.ReadAllText(FixturePaths.Require("MANIFEST.json")));
        var keys = manifest.RootElement.GetProperty("files").GetProperty(file).GetProperty("keys");
        var tensors = TorchCheckpoint.LoadTensors(FixturePaths.Require(file));
        try
        {
            Assert.Equal(keys.EnumerateObject().Select(p => p.Name).Order(), tensors.Keys.Order());
            foreach (var p in keys.EnumerateObject())
            {
                var t = tensors[p.Name];
                Assert.Equal(p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()), t.shape);
                Assert.Equal(p.Value.GetProperty("dtype").GetString(), TorchName(t.dtype));
                // absmax was computed by PyTorch from the stored values: equal only if every element was read exactly.
                using var absmax = t.numel() == 0 ? null : t.abs().max().to(ScalarType.Float64);
                if (absmax is not null) Assert.Equal(p.Value.GetProperty("absmax").GetDouble(), absmax.item<double>());
            }
        }
        finally { TensorAssert.DisposeAll(tensors.Values); }
    }

    [SkippableFact]
    public void Unet_outputs_are_float32_and_labels_int64()
    {
        var tensors = TorchCheckpoint.LoadTensors(FixturePaths.Require("unet_imagenet64.pt"));
        try
        {
            Assert.Equal(ScalarType.Int64, tensors["y"].dtype);
            Assert.Equal([3L, 917L], tensors["y"].data<long>().ToArray());
            Assert.All(tensors.Where(kv => kv.Key != "y"), kv => Assert.Equal(ScalarType.Float32, kv.Value.dtype));
        }
        finally { TensorAssert.DisposeAll(tensors.Values); }
    }

    [SkippableFact]
    public void Lpips_weights_stay_float16()
    {
        var tensors = TorchCheckpoint.LoadTensors(FixturePaths.Require("lpips_random_weights.pt"));
        try
        {
            Assert.Contains(tensors.Values, t => t.dtype == ScalarType.Float16);
            var w = tensors["vgg16.features.0.weight"];
            Assert.Equal(ScalarType.Float16, w.dtype);
            Assert.Equal([64L, 3, 3, 3], w.shape);
        }
        finally { TensorAssert.DisposeAll(tensors.Values); }
    }

    [SkippableFact]
    public void Schedules_hold_float64_and_int64()
    {
        var tensors = TorchCheckpoint.LoadTensors(FixturePaths.Require("schedules.pt"));
        try
        {
            Assert.Equal(ScalarType.Float64, tensors["ct_imagenet.target_ema"].dtype);
            Assert.Equal(ScalarType.Int64, tensors["ct_imagenet.steps"].dtype);
            Assert.Equal(800000L, tensors["ct_imagenet.steps"].max().item<long>());
        }
        finally { TensorAssert.DisposeAll(tensors.Values); }
    }

    [SkippableFact]
    public void ReadObject_returns_the_ordered_dict()
    {
        var root = TorchCheckpoint.ReadObject(FixturePaths.Require("schedules.pt"));
        try
        {
            Assert.Equal(12, root.Count);
            Assert.Equal("ct_imagenet.steps", root.Keys.First());
            Assert.All(root.Values, v => Assert.IsType<Tensor>(v));
        }
        finally { TensorAssert.DisposeAll(root.Values.Cast<Tensor>()); }
    }

    [SkippableFact]
    public void CheckpointFile_dispatches_torch_zips()
    {
        var sd = CheckpointFile.LoadStateDict(FixturePaths.Require("model_imagenet64_topology.pt"));
        try { Assert.Equal(541, sd.Count); }
        finally { TensorAssert.DisposeAll(sd.Values); }
    }

    private static string TorchName(ScalarType t) => t switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float16 => "float16",
        ScalarType.Float64 => "float64",
        ScalarType.Int64 => "int64",
        _ => t.ToString(),
    };
}
