<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="en">
<context>
    <name>AgentsModel</name>
    <message>
        <source>Agent</source>
        <extracomment>The agent&apos;s key (its id, or its endpoint before it said who it is). A plain value to sort the column by. Connected now, and whether it answered (READY). Approved to receive audio (None: the store has no record of it yet). Seconds of work per second of audio, measured over its lifetime; None before any work. Announced on the LAN right now (zeroconf). The ``host:port`` it was added by (it can be removed from the list); &quot;&quot; when it was not. The agent answered that it does not trust this computer: they must be paired.</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Where</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>State</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Approved</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Slots × threads</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Busy</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Speed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Parts done</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Last seen</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Key fingerprint: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>none</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Models: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not paired</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>This computer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Found, not paired</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Offline</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Working</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Ready</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Yes (this computer)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No (key %1)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not yet</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Yes</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>just now</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 ago</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>AgentsPanel</name>
    <message>
        <source>Agents</source>
        <extracomment>How often the panel reads the agents again while it is shown. The window&apos;s size before the columns are measured; it grows to show every column whole. Room kept for the columns sized by their contents, in pixels: agent name, where, and approved, which holds a whole key fingerprint for agents found but not paired. Events after which the list is read again at once (rather than at the next tick). A message for the main window&apos;s status bar. An agent event arrived during a read: read once more when it ends.</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Agents transcribe the parts of your recordings. This computer runs its own; office PCs running sttdesk-agent can join on the local network.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>host:port, e.g. 192.168.1.20:%1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add Agent</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>LAN agents receive audio only once paired. An agent found on the network but not paired is listed with its key fingerprint and gets no work.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>its key, shown by sttdesk-agent key</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Use an agent the network does not announce, now and after every start</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stop using the selected agent added by address</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Pair…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Approve the selected agent with the code it shows, so that it receives work</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Revoke</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stop trusting the selected agent: it gets no more audio, and its work in progress goes back to the queue</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add by address:</source>
        <extracomment>The outcome of the last add or remove (the summary is rewritten on every read).</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Close</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Asking %1 for a pairing code…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stop sending audio to %1? Its work in progress goes back to the queue. To use it again, pair it again.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Revoke agent</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Paired with %1: it receives work from now on.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 is no longer trusted</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Connecting to %1…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 is no longer used</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>%n agent(s) ready</source>
        <translation>
            <numerusform>%n agent ready</numerusform>
            <numerusform>%n agents ready</numerusform>
        </translation>
    </message>
    <message>
        <source>%1 of %2 slots busy</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>%n found, not paired</source>
        <translation>
            <numerusform>%n found, not paired</numerusform>
            <numerusform>%n found, not paired</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>DesktopApp</name>
    <message>
        <source>sttdesk could not start</source>
        <extracomment>How long quitting waits for background tasks (a model install is cancelled first). Python&apos;s thread switch interval while the app runs (seconds; Python&apos;s default is 0.005). Qt paints a table by calling into Python for every cell and role, and each call takes the GIL back from the worker threads; with the default, each hand-over can wait up to 5 ms, and a paint makes hundreds of them.</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Transcript ready: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Transcription failed: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Settings reset</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The default settings are used; the old file was kept beside the new one with the ending .broken.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ExportDialog</name>
    <message>
        <source>Export Transcripts</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>Save the transcripts of %n job(s) as:</source>
        <translation>
            <numerusform>Save the transcripts of %n job as:</numerusform>
            <numerusform>Save the transcripts of %n jobs as:</numerusform>
        </translation>
    </message>
    <message>
        <source>Plain text (TXT)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Data with word times (JSON)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Subtitles (SRT)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Web subtitles (VTT)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Start each line of the text file with its time</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Folder:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Files are named after the recordings; an earlier export of the same job is replaced.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export to Folder</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Formatting</name>
    <message>
        <source>Waiting</source>
        <extracomment>Languages a job can ask for, in the order menus list them; names are shown in their own language.</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Transcribing</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Paused</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Done</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancelled</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Auto-detect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 (detected)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1× real time</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>JobActions</name>
    <message>
        <source>&amp;Add Files…</source>
        <extracomment>Job states the operation applies to; selected jobs in other states are skipped. ``call(service, job_id)``, run on a worker thread. Job states that have a transcript worth opening or exporting. An operation of :data:`OPERATIONS` was asked for, by name.</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add audio or video files to transcribe</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add &amp;Folder…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add every audio and video file in a folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Pause the selected jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Resume</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Resume the selected paused jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Cancel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Stop the selected jobs for good</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Retry &amp;Failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Try the failed parts of the selected jobs again</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Re&amp;move</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove the selected jobs and their files from the list</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Open Containing &amp;Folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show the selected file in the file manager</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Export…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Save the transcripts of the selected jobs as TXT, JSON, SRT or VTT</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>JobAudioPlayer</name>
    <message>
        <source>The audio of this job is no longer available.</source>
        <extracomment>The format of a job&apos;s decoded audio (sttdesk.audio.decode writes 16 kHz mono s16le). Largest PCM a WAV header can describe (its sizes are 32-bit). Copy buffer for wrapping PCM in a WAV file. The play position moved (seconds on the file&apos;s timeline). Playing started or stopped. The audio could not be played: a message for the user.</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The audio cannot be played: %1</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>JobOptionsBar</name>
    <message>
        <source>Language spoken in the files you add next</source>
        <extracomment>The user picked another language or model: (language, model).</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Whisper model for the files you add next</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Language:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Model:</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>JobTableModel</name>
    <message>
        <source>File</source>
        <extracomment>The job&apos;s id (str). The whole :class:`JobView`. A plain value to sort the column by (numbers sort as numbers). ``(chunks done, chunks total, chunks failed, state)`` for the progress delegate. The job&apos;s state (str), e.g. &quot;PROCESSING&quot;. Columns by position: ``Column(n)`` costs an enum lookup, and data() runs for every cell and role. Columns whose text moves with the clock while a job runs. The roles data() answers; Qt asks each cell for a dozen more (font, colours...) at every paint.</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Length</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Language</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Model</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>State</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Progress</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Elapsed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remaining</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Agents</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Preparing…</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>%n part(s) failed</source>
        <translation>
            <numerusform>%n part failed</numerusform>
            <numerusform>%n parts failed</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n retry(s)</source>
        <translation>
            <numerusform>%n retry</numerusform>
            <numerusform>%n retries</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Drop audio or video files here to transcribe them,
or use Add Files… (Ctrl+O).</source>
        <extracomment>How often the status bar&apos;s pool figures are read again. How long a status bar message stays. Wait after an agent event before reading the agents: the coordinator publishes its snapshot of the links a moment after it announces the event. Sum over ready agents of their measured speed (× real time); None before any measurement. Agent id → the name it announced, for the job table&apos;s agents column. The user asked to quit (menu or closing the window, after confirming). What the latest export wrote (for the status bar and tests).</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Main toolbar</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Select &amp;All</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Tools</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Agents…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>See the computers that transcribe, and add one by address</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Models…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Install, import, remove and choose whisper models</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Starting agents…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add Files</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Audio and video (%1);;All files (*)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add Folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>Adding %n item(s)…</source>
        <translation>
            <numerusform>Adding %n item…</numerusform>
            <numerusform>Adding %n items…</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>Added %n file(s).</source>
        <translation>
            <numerusform>Added %n file.</numerusform>
            <numerusform>Added %n files.</numerusform>
        </translation>
    </message>
    <message>
        <source>No audio or video files found.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Some files were not added</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>%n file(s) could not be added:</source>
        <translation>
            <numerusform>%n file could not be added:</numerusform>
            <numerusform>%n files could not be added:</numerusform>
        </translation>
    </message>
    <message>
        <source>Files were not added</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The action failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove jobs</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>Remove %n job(s) from the list? Their transcripts and corrections are deleted; your audio files are not touched.</source>
        <translation>
            <numerusform>Remove %n job from the list? Their transcripts and corrections are deleted; your audio files are not touched.</numerusform>
            <numerusform>Remove %n jobs from the list? Their transcripts and corrections are deleted; your audio files are not touched.</numerusform>
        </translation>
    </message>
    <message>
        <source>Remove</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Some jobs were left as they were</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The folder %1 no longer exists.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Export failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>Saved %n file(s) in %1.</source>
        <translation>
            <numerusform>Saved %n file in %1.</numerusform>
            <numerusform>Saved %n files in %1.</numerusform>
        </translation>
    </message>
    <message>
        <source>Automatic export failed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Some transcripts were not saved</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Settings saved.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No agents yet</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>%n agent(s) ready</source>
        <translation>
            <numerusform>%n agent ready</numerusform>
            <numerusform>%n agents ready</numerusform>
        </translation>
    </message>
    <message>
        <source>%1× real time</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>%n transcribing</source>
        <translation>
            <numerusform>%n transcribing</numerusform>
            <numerusform>%n transcribing</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n waiting</source>
        <translation>
            <numerusform>%n waiting</numerusform>
            <numerusform>%n waiting</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n paused</source>
        <translation>
            <numerusform>%n paused</numerusform>
            <numerusform>%n paused</numerusform>
        </translation>
    </message>
    <message>
        <source>Quit sttdesk</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>%n job(s) are still being transcribed. They will continue the next time you start sttdesk. Quit now?</source>
        <translation>
            <numerusform>%n job is still being transcribed. They will continue the next time you start sttdesk. Quit now?</numerusform>
            <numerusform>%n jobs are still being transcribed. They will continue the next time you start sttdesk. Quit now?</numerusform>
        </translation>
    </message>
    <message>
        <source>Quit</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>Messages</name>
    <message>
        <source>Unexpected error: %1</source>
        <extracomment>At most this many lines are listed in one message; the rest are counted.</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>…and %n more.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>OK</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ModelsDialog</name>
    <message>
        <source>Models</source>
        <extracomment>The window&apos;s size before its columns are measured; it grows to show every column whole. Room kept for the model names (the one column sized by what it holds), in pixels. The layout&apos;s margins and the table&apos;s frame beside the columns, in pixels. Installed models or the default changed (the main window lists them again). The user made this model the default. Asks a yes/no question (tests answer it without a modal loop). Picks a model file to import; returns None when the user cancels.</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Show installed models only</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Install</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Import File…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Add a whisper.cpp model file (ggml .bin) from this computer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Make Default</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel Install</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Close</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>★ %1 is recommended for this computer. Bigger models are more accurate but slower; the memory each needs is listed.</source>
        <extracomment>A model to select once the list is read again (the one just installed).</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Bigger models are more accurate but slower; the memory each needs is listed.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Installing %1…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Importing %1…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove the model %1 (%2) from this computer? Jobs waiting for it will fail until it is installed again.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Remove Model</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 was removed.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>New jobs use %1 from now on.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Building a model locally cannot be cancelled</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Installed: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Install of %1 cancelled; it resumes where it stopped next time.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Import Model</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>whisper.cpp models (*.bin);;All files (*)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ModelsModel</name>
    <message>
        <source>Model</source>
        <extracomment>The model&apos;s name (str). The :class:`ModelRow`. A plain value to sort the column by.</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Status</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Languages</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Size</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Memory needed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Precision</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Recommended for this computer: the most accurate model that runs well here</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Installed</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Available</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Damaged: reinstall it</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>default</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>English only</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>English, Tiếng Việt and more</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>PairingCodeDialog</name>
    <message>
        <source>Pair with %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The agent now shows a six-digit pairing code: in its log, or with &apos;sttdesk-agent pairing&apos; on that computer. Type it here.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>That code did not match. Check it and type it again.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The agent shows the same fingerprint. If it does not, do not pair: another computer may be answering in its place.</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>The code is valid for %n more minute(s).</source>
        <translation>
            <numerusform>The code is valid for %n more minute.</numerusform>
            <numerusform>The code is valid for %n more minutes.</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n attempt(s) left.</source>
        <translation>
            <numerusform>%n attempt left.</numerusform>
            <numerusform>%n attempts left.</numerusform>
        </translation>
    </message>
    <message>
        <source>Agent:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Key fingerprint:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Pairing code:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Pair</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <extracomment>Digits after the decimal point; 0 makes a whole-number spin box. When set, one step below ``minimum`` shows this text and stands for 0 (&quot;Automatic&quot; agents). Shown value = stored value × scale (a share shown in percent).</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>General</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Processing</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Chunking</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Retries</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Changes to processing, chunking, retries and the display language take effect the next time sttdesk starts.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Save</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Restore Defaults</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Same as the system</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Display language:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Start in the tray, without opening the window</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Language of new jobs:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The model store&apos;s default</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Model of new jobs:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Off: export by hand</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Choose…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Save finished transcripts to:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>As:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> s</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Agents on this computer:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Automatic (one per core)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Threads per agent:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Time allowed per part:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Beam size:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Greedy (fastest)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Silence below:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source> dBFS</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Shortest silence to cut at:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Shortest part:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Aim for parts of:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Longest part:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Overlap at a forced cut:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Fixed parts (no silences found):</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Overlap of fixed parts:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Cut at silences (recommended)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Fixed-length parts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>How to cut:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Retries of a failed part:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>First wait:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Each wait longer by:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Longest wait:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Random spread of waits:</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Save Finished Transcripts To</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>TranscriptModel</name>
    <message>
        <source>Time</source>
        <extracomment>Row kind: a segment of text, a failed chunk, or audio not transcribed yet. Start of the row on the file&apos;s timeline, seconds (float). End of the row, seconds (float). :data:`SEGMENT`, :data:`FAILED_GAP` or :data:`PENDING_GAP`. Position of the segment in the transcript (-1 for gaps). Whether the user corrected this segment&apos;s text. Colours of rows that are not plain text (light tints that work on light and dark palettes). The segment&apos;s text, or the reason for a gap (already in the UI language). The user changed a segment&apos;s text: (segment index, segment start, new text).</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Text</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Corrected by you</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not transcribed: %1</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Not transcribed yet…</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>TranscriptPanel</name>
    <message>
        <source>Play or pause the audio (Ctrl+Space)</source>
        <extracomment>Reads of the shown transcript are spaced at least this far apart while chunks pour in. Room beside the find box&apos;s placeholder text (its icon and clear button), in pixels. The rows the view shows, made on the worker too (a long transcript takes a while). The user&apos;s file if it is still there, and the job&apos;s decoded audio if it exists. A message for the status bar. Something failed: (title, message) for an error box.</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Find in transcript</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Retry failed parts</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Click a line to play it; double-click or press F2 to correct its text</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No job selected</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Select a job to read its transcript.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 of %2 parts</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>%n correction(s)</source>
        <translation>
            <numerusform>%n correction</numerusform>
            <numerusform>%n corrections</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n part(s) could not be transcribed.</source>
        <translation>
            <numerusform>%n part could not be transcribed.</numerusform>
            <numerusform>%n parts could not be transcribed.</numerusform>
        </translation>
    </message>
    <message>
        <source>They can be retried once the other parts are done.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>The job failed.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Retry</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Correction saved.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Could not save the correction</source>
        <translation type="unfinished"></translation>
    </message>
    <message numerus="yes">
        <source>Retrying %n part(s).</source>
        <translation>
            <numerusform>Retrying %n part.</numerusform>
            <numerusform>Retrying %n parts.</numerusform>
        </translation>
    </message>
    <message>
        <source>Could not retry</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>No matches</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>%1 of %2</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>TrayIcon</name>
    <message>
        <source>Show sttdesk</source>
        <extracomment>How long a notice stays up, in milliseconds.</extracomment>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Quit</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Transcript ready</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <source>Transcription failed</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
