namespace Presence.Model;

/// <summary>
/// Grain keys are "{tenant}/{id}". A tenant may contain '/' (Agora's "org/app"), an id never does, so a key
/// splits at its last '/'. Nothing in one tenant can name a grain of another.
/// </summary>
public static class PresenceKeys
{
    public const int MaxIdLength = 64;
    public const int MaxChannelIdLength = 128;
    public const int MaxTenantLength = 128;
    public const string DefaultTenant = "default";

    public static string Of(string tenant, string id) => string.Concat(tenant, "/", id);

    public static (string Tenant, string Id) Split(string key)
    {
        var slash = key.LastIndexOf('/');
        return slash <= 0 ? (DefaultTenant, key) : (key[..slash], key[(slash + 1)..]);
    }

    /// <summary>Index shard of a user. FNV-1a over the id's chars: stable across processes, unlike string.GetHashCode.</summary>
    public static int ShardOf(string userId, int shards)
    {
        var hash = 2166136261u;
        foreach (var c in userId)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return (int)(hash % (uint)shards);
    }

    /// <summary>The key of a tenant's one logical shard <paramref name="shard"/> as a node of its own (the fixed layout's key too).</summary>
    public static string ShardKey(string tenant, int shard) => Of(tenant, shard.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>
    /// The key of the index node holding a tenant's logical shards [<paramref name="lo"/>, <paramref name="hi"/>):
    /// "{tenant}/{lo}-{hi}", or, for one logical shard, <see cref="ShardKey"/>'s "{tenant}/{lo}".
    /// </summary>
    public static string ShardKey(string tenant, int lo, int hi)
        => hi == lo + 1 ? ShardKey(tenant, lo) : Of(tenant, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{lo}-{hi}"));

    /// <summary>
    /// The key of the pool grain hosting the roots of the tenants that hash to <paramref name="pool"/>: "~pools/{pool}"
    /// (no tenant starts with '~', so no tenant's grain has it).
    /// </summary>
    public static string PoolKey(int pool) => Of("~pools", pool.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>The pool of a tenant's root, of <paramref name="pools"/>: FNV-1a like <see cref="ShardOf"/>.</summary>
    public static int PoolOf(string tenant, int pools) => ShardOf(tenant, pools);

    /// <summary>The range of logical shards a node's id (the part of its key after the tenant) names; false when it names none.</summary>
    public static bool TryParseShardRange(string id, out int lo, out int hi)
    {
        var dash = id.IndexOf('-');
        var style = System.Globalization.NumberStyles.None;
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        if (dash < 0)
        {
            hi = int.TryParse(id, style, culture, out lo) ? lo + 1 : 0;
            return hi > lo;
        }
        hi = 0;
        return int.TryParse(id.AsSpan(0, dash), style, culture, out lo) && int.TryParse(id.AsSpan(dash + 1), style, culture, out hi) && hi > lo + 1;
    }

    /// <summary>User and channel ids: letters, digits and <c>_ . : - @</c> (not leading '@', which pnut reserves for usernames).</summary>
    public static bool IsValidId(string? id, int maxLength = MaxIdLength)
    {
        if (string.IsNullOrEmpty(id) || id.Length > maxLength || id[0] == '@')
        {
            return false;
        }
        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or ':' or '-' or '@'))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Tenants: 1-128 chars of letters, digits and <c>_ . - /</c>, not starting or ending with '/'.</summary>
    public static bool IsValidTenant(string? tenant)
    {
        if (string.IsNullOrEmpty(tenant) || tenant.Length > MaxTenantLength || tenant[0] == '/' || tenant[^1] == '/')
        {
            return false;
        }
        foreach (var c in tenant)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-' or '/'))
            {
                return false;
            }
        }
        return true;
    }
}
