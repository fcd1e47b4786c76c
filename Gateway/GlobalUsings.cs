global using Orleans;
global using Presence.Model;
global using Presence.Client;
global using Presence.Gateway.Dialects;
