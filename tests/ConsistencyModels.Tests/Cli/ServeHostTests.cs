// cm serve --host: only an address or localhost (Kestrel reads any other name as "every interface").
using ConsistencyModels.Cli.Commands;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public class ServeHostTests
{
    [Theory]
    [InlineData("127.0.0.1", true, false)]
    [InlineData("localhost", true, false)]
    [InlineData("::1", true, false)]
    [InlineData("[::1]", true, false)]
    [InlineData("0.0.0.0", true, true)]
    [InlineData("192.168.1.20", true, true)]
    [InlineData("not_an_ip", false, false)]
    [InlineData("studio.example", false, false)]
    public void OnlyAddressesAndLocalhostAreTaken(string host, bool accepted, bool beyondLoopback)
    {
        Assert.Equal(accepted, ServeCommand.Settings.IsAddressOrLocalhost(host));
        Assert.Equal(beyondLoopback, ServeCommand.Settings.IsBeyondLoopback(host));
    }

    [Fact]
    public void AHostNameIsRefusedBeforeListening()
    {
        var r = CmProcess.Run("serve", "--host", "not_an_ip", "--port", "0");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--host must be an IP address or localhost (got 'not_an_ip')", r.All);
        Assert.DoesNotContain("   at ", r.All);
    }
}
