global using Orleans;
global using Presence.Model;
