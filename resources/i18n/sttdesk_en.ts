<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="en">
<context>
    <name>DesktopApp</name>
    <message>
        <source>sttdesk could not start</source>
        <extracomment>How long quitting waits for background tasks (a model install is cancelled first).</extracomment>
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
        <extracomment>The job&apos;s id (str). The whole :class:`JobView`. A plain value to sort the column by (numbers sort as numbers). ``(chunks done, chunks total, chunks failed, state)`` for the progress delegate. The job&apos;s state (str), e.g. &quot;PROCESSING&quot;.</extracomment>
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
    <message numerus="yes">
        <source>…and %n more.</source>
        <translation>
            <numerusform>…and %n more.</numerusform>
            <numerusform>…and %n more.</numerusform>
        </translation>
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
        <extracomment>Reads of the shown transcript are spaced at least this far apart while chunks pour in. The user&apos;s file if it is still there, and the job&apos;s decoded audio if it exists. A message for the status bar. Something failed: (title, message) for an error box.</extracomment>
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
