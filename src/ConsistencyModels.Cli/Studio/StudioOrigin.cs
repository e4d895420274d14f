// Only the studio's own page may drive it: a Host check against DNS rebinding, an Origin check against cross-site requests.
using System.Net;
using Microsoft.AspNetCore.Http;

namespace ConsistencyModels.Cli.Studio;

internal static class StudioOrigin
{
    /// <summary>
    /// Whether <paramref name="host"/> (the request's Host header) names this server: localhost, a loopback address, the
    /// bound address (any address when bound to 0.0.0.0 or ::), on the port the connection came in on. A DNS name is
    /// refused: a page whose name is re-pointed at 127.0.0.1 (DNS rebinding) would otherwise count as same-origin.
    /// </summary>
    public static bool IsKnownHost(HostString host, string boundHost, int localPort)
    {
        if (!host.HasValue || (host.Port ?? 80) != localPort) return false;
        string name = host.Host.Trim('[', ']');
        if (string.Equals(name, "localhost", StringComparison.OrdinalIgnoreCase)) return true;
        if (!IPAddress.TryParse(name, out var ip)) return false;
        if (IPAddress.IsLoopback(ip)) return true;
        if (!IPAddress.TryParse(boundHost.Trim('[', ']'), out var bound)) return false;
        return bound.Equals(IPAddress.Any) || bound.Equals(IPAddress.IPv6Any) || bound.Equals(ip);
    }

    /// <summary>
    /// Whether a state-changing request comes from the studio's own page. Browsers send <c>Origin</c> on every POST and
    /// DELETE (modern ones also <c>Sec-Fetch-Site</c>): it must be this server as the page's address bar shows it. A
    /// request with neither header comes from a program (curl, a script), which a web page cannot make.
    /// </summary>
    public static bool IsSameOrigin(string? origin, string? secFetchSite, HostString host)
    {
        if (!string.IsNullOrEmpty(origin)) return string.Equals(origin, "http://" + host.Value, StringComparison.OrdinalIgnoreCase);
        if (!string.IsNullOrEmpty(secFetchSite)) return secFetchSite is "same-origin" or "none";
        return true;
    }

    public static bool ChangesState(string method) => !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method));
}
