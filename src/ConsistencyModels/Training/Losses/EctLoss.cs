// Easy Consistency Tuning's loss — port of locuslab/ect training/loss.py::ECMLoss (Geng et al., ICLR 2025, arXiv 2406.14548).
using ConsistencyModels.Diffusion;
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

/// <summary>How ECT maps t to the nearer noise level r of a pair (<c>--mapping</c> in their code: <c>adj</c>).</summary>
public enum EctMapping
{
    /// <summary>r = t·(1 − q^−(stage+1)·(1 + k·sigmoid(−b·t))): relatively nearer pairs at small t.</summary>
    Sigmoid,
    /// <summary>r = t·(1 − q^−(stage+1)).</summary>
    Const,
}

/// <summary>The per-sample weight of ECT's pseudo-Huber distance.</summary>
public enum EctWeighting
{
    /// <summary>1/(t − r): the CIFAR-10 release.</summary>
    InverseDelta,
    /// <summary>(t² + σ_d²)/(t·σ_d)², "SNR + k": the ImageNet (EDM2) release, the <c>wt='snrpk'</c> of ECMLoss.</summary>
    SnrPlusK,
}

/// <summary>
/// ECT: the consistency loss between D(x + t·ε, t) and the same network's stop-gradient D(x + r·ε, r) with one shared
/// noise direction ε; t is log-normal, r = <see cref="R"/>(t) moves towards t as <see cref="Stage"/> grows (the stage
/// advances every fixed number of steps, so pairs shrink from diffusion pretraining to a consistency model).
/// </summary>
/// <param name="Q">Shrink factor per stage: the gap t − r shrinks by q each stage (their CIFAR-10 runs: 2 or 256).</param>
/// <param name="HuberC">c of the pseudo-Huber distance √(‖·‖² + c²) − c; 0 is the plain L2 norm.</param>
public sealed record EctLoss(
    double Q = 2,
    int Stage = 0,
    EctMapping Mapping = EctMapping.Sigmoid,
    double K = 8,
    double B = 1,
    double HuberC = 0,
    EctWeighting Weighting = EctWeighting.InverseDelta,
    double PMean = -1.1,
    double PStd = 2.0,
    double SigmaData = 0.5)
{
    /// <summary>t = exp(P_mean + P_std·n) from standard normal draws n (ECMLoss's <c>rnd_normal</c>, [B, 1, 1, 1]).</summary>
    public Tensor T(Tensor rndNormal) => (rndNormal * PStd + PMean).exp();

    /// <summary>The pair's nearer level r = max(0, t·ratio(t)) at this stage (ECMLoss.t_to_r_sigmoid / t_to_r_const).</summary>
    public Tensor R(Tensor t)
    {
        if (Q <= 1) throw new ArgumentException($"`Q` must be above 1, or r never approaches t (got {Q})");
        if (Stage < 0) throw new ArgumentException($"`Stage` must be non-negative (got {Stage})");
        using var scope = NewDisposeScope();
        double decay = 1 / Math.Pow(Q, Stage + 1);
        var r = Mapping switch
        {
            // 1 − decay·(1 + k·sigmoid(−b·t)), in float32 op for op as upstream.
            EctMapping.Sigmoid => t * ((((t * -B).sigmoid() * K) + 1) * decay).neg().add(1),
            _ => t * (1 - decay),
        };
        return r.clamp_min(0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The weighted per-sample loss [B] for images <paramref name="x"/> [B, C, H, W], the draws of one ECMLoss call
    /// (<paramref name="rndNormal"/> [B, 1, 1, 1], then <paramref name="eps"/> like x) and the network
    /// <paramref name="net"/> (a denoiser D(x, σ) with autograd on). The r-side evaluation runs under no_grad with the
    /// dropout masks of the t-side one; where r = 0 its target is x itself.
    /// </summary>
    public Tensor Compute(Tensor x, Tensor rndNormal, Tensor eps, Denoiser net)
    {
        using var scope = NewDisposeScope();
        var t = T(rndNormal);
        var r = R(t);
        var xT = x + eps * t;
        var xR = x + eps * r;

        var dropoutState = TorchSharp.torch.random.get_rng_state();       // both evaluations draw the same dropout masks
        var fxT = net(xT, t.flatten());
        Tensor fxR;
        if (r.max().item<float>() > 0)
        {
            TorchSharp.torch.random.set_rng_state(dropoutState);
            using (no_grad()) fxR = net(xR, r.flatten()).detach();
            var mask = r > 0;
            fxR = mask * fxR.nan_to_num() + mask.logical_not() * x;
        }
        else fxR = x;

        var squared = (fxT - fxR).pow(2).reshape(x.shape[0], -1).sum(-1);
        var distance = HuberC > 0 ? (squared + HuberC * HuberC).sqrt() - HuberC : squared.sqrt();
        var loss = Weighting == EctWeighting.InverseDelta
            ? distance / (t - r).flatten()
            : distance * ((t.pow(2) + SigmaData * SigmaData) / (t * SigmaData).pow(2)).flatten();
        return loss.MoveToOuterDisposeScope();
    }
}
