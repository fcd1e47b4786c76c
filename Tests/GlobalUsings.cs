global using Orleans;
global using Presence.Model;
global using Xunit;
