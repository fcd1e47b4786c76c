using System.Text.RegularExpressions;

namespace Presence.Tests.Docs;

/// <summary>
/// README.md is the front door and docs/*.md hold the reference: every link between them must lead somewhere, so a
/// moved or renamed heading cannot leave a dead link, and no docs page may be unreachable from the README.
/// </summary>
public sealed partial class DocsLinkTests
{
    private const string SolutionFile = "Orleans.Presence.sln";

    [Fact]
    public void Every_link_in_the_readme_and_the_docs_leads_to_a_file_and_heading_that_exist()
    {
        var root = RepositoryRoot();
        var failures = new List<string>();
        foreach (var file in MarkdownFiles(root))
        {
            foreach (var target in LinkTargets(File.ReadAllText(file)))
            {
                if (IsExternal(target))
                {
                    continue;
                }
                var (path, anchor) = Split(target);
                var linked = path.Length == 0 ? file : Resolve(file, path);
                var origin = $"{Path.GetRelativePath(root, file)}: ({target})";
                if (!File.Exists(linked) && !Directory.Exists(linked))
                {
                    failures.Add($"{origin}: no such file {Path.GetRelativePath(root, linked)}");
                    continue;
                }
                if (anchor is null)
                {
                    continue;
                }
                if (!linked.EndsWith(".md", StringComparison.OrdinalIgnoreCase) || !File.Exists(linked))
                {
                    failures.Add($"{origin}: an anchor into something that is not a Markdown file");
                    continue;
                }
                if (!Anchors(File.ReadAllText(linked)).Contains(anchor))
                {
                    failures.Add($"{origin}: no heading of {Path.GetRelativePath(root, linked)} has the anchor #{anchor}");
                }
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} dead link(s):\n" + string.Join("\n", failures));
    }

    [Fact]
    public void Every_docs_page_is_linked_from_the_readme()
    {
        var root = RepositoryRoot();
        var readme = Path.Combine(root, "README.md");
        var linked = new HashSet<string>(StringComparer.Ordinal);
        foreach (var target in LinkTargets(File.ReadAllText(readme)))
        {
            if (!IsExternal(target))
            {
                var (path, _) = Split(target);
                if (path.Length > 0)
                {
                    linked.Add(Resolve(readme, path));
                }
            }
        }
        var pages = DocsPages(root);
        Assert.NotEmpty(pages);
        var unlinked = pages.Where(page => !linked.Contains(page)).Select(page => Path.GetRelativePath(root, page)).ToList();
        Assert.True(unlinked.Count == 0, "README.md links no page " + string.Join(", ", unlinked));
    }

    /// <summary>The anchors GitHub gives the headings of a Markdown text, in order, duplicates suffixed -1, -2, ...</summary>
    internal static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match heading in HeadingPattern().Matches(OutsideFences(markdown)))
        {
            var slug = Slug(heading.Groups["text"].Value);
            if (seen.TryGetValue(slug, out var count))
            {
                seen[slug] = count + 1;
                slug = $"{slug}-{count + 1}";
            }
            else
            {
                seen[slug] = 0;
            }
            anchors.Add(slug);
        }
        return anchors;
    }

    /// <summary>
    /// GitHub's rule: the heading's text (a link counts by its text), lowercased, without the characters that are not
    /// letters, digits, spaces, '-' or '_', each space then a '-'.
    /// </summary>
    internal static string Slug(string heading)
    {
        var text = InlineLinkPattern().Replace(heading.Trim(), "${text}").ToLowerInvariant();
        return NotInSlugPattern().Replace(text, "").Replace(' ', '-');
    }

    /// <summary>Targets of the inline links and images of a Markdown text, outside fenced code blocks and code spans.</summary>
    internal static List<string> LinkTargets(string markdown)
    {
        var prose = CodeSpanPattern().Replace(OutsideFences(markdown), "");
        return LinkPattern().Matches(prose).Select(match => match.Groups["target"].Value).ToList();
    }

    /// <summary>The text with every line of a fenced code block (``` or ~~~, fences included) blanked.</summary>
    internal static string OutsideFences(string markdown)
    {
        var lines = markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        string? fence = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var trimmed = lines[i].TrimStart();
            if (fence is null)
            {
                if (trimmed.StartsWith("```", StringComparison.Ordinal) || trimmed.StartsWith("~~~", StringComparison.Ordinal))
                {
                    fence = trimmed[..3];
                    lines[i] = "";
                }
            }
            else
            {
                if (trimmed.StartsWith(fence, StringComparison.Ordinal))
                {
                    fence = null;
                }
                lines[i] = "";
            }
        }
        return string.Join("\n", lines);
    }

    private static bool IsExternal(string target) =>
        target.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
        || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
        || target.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase);

    private static (string Path, string? Anchor) Split(string target)
    {
        var hash = target.IndexOf('#', StringComparison.Ordinal);
        return hash < 0 ? (target, null) : (target[..hash], target[(hash + 1)..]);
    }

    private static string Resolve(string linkingFile, string path)
    {
        var directory = Path.GetDirectoryName(linkingFile) ?? throw new InvalidOperationException($"{linkingFile} has no directory");
        return Path.GetFullPath(Path.Combine(directory, path.Replace('/', Path.DirectorySeparatorChar))).TrimEnd(Path.DirectorySeparatorChar);
    }

    private static List<string> MarkdownFiles(string root)
    {
        var files = new List<string> { Path.Combine(root, "README.md") };
        files.AddRange(DocsPages(root));
        return files;
    }

    private static List<string> DocsPages(string root)
    {
        var docs = Path.Combine(root, "docs");
        Assert.True(Directory.Exists(docs), $"no docs directory at {docs}");
        return Directory.GetFiles(docs, "*.md").Select(file => Path.GetFullPath(file)).Order(StringComparer.Ordinal).ToList();
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, SolutionFile)))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException($"no directory above {AppContext.BaseDirectory} holds {SolutionFile}");
    }

    /// <summary>An ATX heading: up to three spaces, 1-6 '#', its text, optional closing '#'s.</summary>
    [GeneratedRegex(@"^ {0,3}#{1,6}(?:[ \t]+(?<text>.*?))?(?:[ \t]+#+)?[ \t]*$", RegexOptions.Multiline)]
    private static partial Regex HeadingPattern();

    /// <summary>[text](target) or ![alt](target), with an optional "title".</summary>
    [GeneratedRegex(@"\[[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*\]\(\s*<?(?<target>[^)\s>]+)>?(?:\s+""[^""]*"")?\s*\)")]
    private static partial Regex LinkPattern();

    [GeneratedRegex(@"\[(?<text>[^\]]*)\]\([^)]*\)")]
    private static partial Regex InlineLinkPattern();

    [GeneratedRegex(@"(`+)[\s\S]*?\1")]
    private static partial Regex CodeSpanPattern();

    [GeneratedRegex(@"[^\p{L}\p{N} _-]")]
    private static partial Regex NotInSlugPattern();
}
